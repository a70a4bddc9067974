using Microsoft.EntityFrameworkCore;
using Satsub.Ledger;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Cli;

/// <summary><c>satsub refund INVOICE_ID --reason TEXT</c> on the real executable, against the embedded SQLite database.</summary>
public sealed class RefundCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("satsub-cli-refund-").FullName;

    private string Connection => $"Data Source={Path.Combine(dir, "satsub.db")}";

    private Dictionary<string, string> Env() => new()
    {
        ["DOTNET_ENVIRONMENT"] = "Development",
        ["ConnectionStrings__Satsub"] = Connection,
    };

    [Fact]
    public async Task Refund_RecordsOnce_AndRefusesUnknownInvoices()
    {
        Guid invoiceId, affiliateId;
        await using (var services = await SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["ConnectionStrings:Satsub"] = Connection }))
        {
            var affiliate = await services.RegisterAsync();
            var buyer = await services.RegisterAsync(affiliate.ReferralCode);
            var sale = await services.SettleAsync((await services.BuyAsync(buyer.Id)).Id);
            (invoiceId, affiliateId) = (sale.InvoiceId, affiliate.Id);
        }

        var first = await SatsubProcess.RunAsync(dir, Env(), "refund", invoiceId.ToString(), "--reason", "chargeback");
        var second = await SatsubProcess.RunAsync(dir, Env(), "refund", invoiceId.ToString(), "--reason", "chargeback");

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Equal("refund_id\tinvoice_id\tamount_sats\tcommission_reversed_sats\tclawed_back", first.StdoutLines[0]);
        var row = first.StdoutLines[1].Split('\t');
        Assert.Equal([invoiceId.ToString("D"), "10000", "5000", "no"], row[1..]);
        Assert.Equal(0, second.ExitCode);
        Assert.Equal(first.StdoutLines[1], second.StdoutLines[1]);
        Assert.Contains("already refunded", second.Stderr, StringComparison.Ordinal);

        await using (var services = await SatsubServices.StartAsync(DbKind.Sqlite, new Dictionary<string, string?> { ["ConnectionStrings:Satsub"] = Connection }))
        {
            Assert.Equal(1, await services.DbAsync(db => db.Refunds.CountAsync()));
            Assert.Equal(0, (await services.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, affiliateId, default))).Pending.Value);
        }

        var unknown = await SatsubProcess.RunAsync(dir, Env(), "refund", Guid.NewGuid().ToString(), "--reason", "x");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("No such invoice", unknown.Stderr, StringComparison.Ordinal);
        var noReason = await SatsubProcess.RunAsync(dir, Env(), "refund", invoiceId.ToString());
        Assert.NotEqual(0, noReason.ExitCode);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }
}
