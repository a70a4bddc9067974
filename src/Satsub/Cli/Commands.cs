using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Options;
using Satsub.ApiKeys;
using Satsub.Common;
using Satsub.Exports;
using Satsub.Hosting;
using Satsub.Plans;
using Satsub.Refunds;

namespace Satsub.Cli;

/// <summary><c>satsub [serve] | migrate | plans list | apikey create|list|revoke | refund | export</c>.</summary>
public static class Commands
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Satsub: paid subscriptions for Telegram communities, paid in bitcoin, shared with affiliates.");
        var serve = new Command("serve", "Run the API, the bot, the web pages and the workers (the default).") { TreatUnmatchedTokensAsErrors = false };
        serve.SetAction((parse, ct) => ServeAsync([.. parse.UnmatchedTokens], ct));
        root.TreatUnmatchedTokensAsErrors = false;
        root.SetAction((parse, ct) => ServeAsync([.. parse.UnmatchedTokens], ct));
        root.Subcommands.Add(serve);

        var migrate = new Command("migrate", "Apply database migrations and the configured plans, then exit.");
        migrate.SetAction((_, ct) => WithServicesAsync(true, (_, _) => Task.FromResult(0), ct));
        root.Subcommands.Add(migrate);

        var plans = new Command("plans", "Subscription plans.");
        var plansList = new Command("list", "List every plan, active or not.");
        plansList.SetAction((_, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            var list = await sp.GetRequiredService<PlanCatalog>().ListAsync(activeOnly: false, c);
            Console.WriteLine("code\tactive\tprice\tdays\tsource\tname");
            foreach (var p in list)
            {
                var price = p.PriceSats is { } s ? $"{s} sats" : string.Create(CultureInfo.InvariantCulture, $"{p.FiatAmount} {p.FiatCurrency}");
                Console.WriteLine($"{p.Code}\t{(p.Active ? "yes" : "no")}\t{price}\t{p.DurationDays}\t{p.Source}\t{p.Name}");
            }
            return 0;
        }, ct));
        plans.Subcommands.Add(plansList);
        root.Subcommands.Add(plans);

        root.Subcommands.Add(ApiKeyCommand());
        root.Subcommands.Add(RefundCommand());
        root.Subcommands.Add(ExportCommand());
        root.Subcommands.Add(Affiliates.Standings.StandingsModule.Command(WithServicesAsync));
        root.Subcommands.Add(Transparency.ReportsCommand.Command(WithServicesAsync));
        return root;
    }

    private static Command RefundCommand()
    {
        var invoice = new Argument<Guid>("invoice-id") { Description = "The settled invoice to refund." };
        var reason = new Option<string>("--reason") { Description = "Why (kept with the refund).", Required = true };
        var refund = new Command("refund", "Record the refund of a settled sale: takes back its period and reverses the affiliate's commission. Safe to repeat.") { invoice, reason };
        refund.SetAction((parse, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            var text = parse.GetValue(reason)!.Trim();
            if (text.Length is 0 or > 500)
            {
                Console.Error.WriteLine("satsub: --reason is 1-500 characters.");
                return 1;
            }
            var r = await sp.GetRequiredService<RefundService>().RefundAsync(parse.GetValue(invoice), text, c);
            Console.Error.WriteLine(r.Replayed ? $"Invoice {r.InvoiceId:D} was already refunded." : $"Refunded invoice {r.InvoiceId:D}.");
            Console.WriteLine("refund_id\tinvoice_id\tamount_sats\tcommission_reversed_sats\tclawed_back");
            Console.WriteLine($"{r.RefundId:D}\t{r.InvoiceId:D}\t{r.Amount.Value}\t{r.CommissionReversed.Value}\t{(r.ClawedBack ? "yes" : "no")}");
            return 0;
        }, ct));
        return refund;
    }

    private static Command ExportCommand()
    {
        var kind = new Argument<string>("kind") { Description = "users, sales, commissions or payouts." };
        kind.AcceptOnlyFromAmong("users", "sales", "commissions", "payouts");
        var from = new Option<string?>("--from") { Description = "Only rows from this time on (ISO 8601, UTC unless an offset is given)." };
        var to = new Option<string?>("--to") { Description = "Only rows before this time." };
        var output = new Option<string?>("--output", "-o") { Description = "Write to this file instead of stdout." };
        var export = new Command("export", "Export a table as CSV (RFC 4180), streamed: any number of rows in constant memory.") { kind, from, to, output };
        export.SetAction((parse, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            if (!ExportsApi.TryParseWindow(parse.GetValue(from), parse.GetValue(to), out var window, out var error))
            {
                Console.Error.WriteLine($"satsub: {error}");
                return 1;
            }
            CsvExporter.TryParseKind(parse.GetValue(kind), out var k);
            var path = parse.GetValue(output);
            // A file is written beside its final name and moved into place, so a failed export leaves no half file.
            var temp = path is null ? null : path + ".partial";
            await using (var stream = temp is null ? Console.OpenStandardOutput() : new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            await using (var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), 1 << 16))
            {
                var rows = await sp.GetRequiredService<CsvExporter>().WriteAsync(k, window, writer, c);
                Console.Error.WriteLine($"Exported {rows} {k.ToString().ToLowerInvariant()} row(s){(path is null ? "" : " to " + path)}.");
            }
            if (temp is not null) File.Move(temp, path!, overwrite: true);
            return 0;
        }, ct));
        return export;
    }

    private static Command ApiKeyCommand()
    {
        var apikey = new Command("apikey", "API keys for integrations.");

        var name = new Option<string>("--name") { Description = "A name that says who uses the key.", Required = true };
        var scopes = new Option<string>("--scopes") { Description = "'admin', or a platform such as 'website' (comma-separated for several).", Required = true };
        var create = new Command("create", "Create a key. The key is printed once, alone on the last line of stdout; only its hash is stored.") { name, scopes };
        create.SetAction((parse, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            var (key, plaintext) = await sp.GetRequiredService<ApiKeyService>().CreateAsync(parse.GetValue(name)!, parse.GetValue(scopes)!, c);
            Console.Error.WriteLine($"Created API key {key.Id:D} '{key.Name}' with scopes {key.Scopes}. Store it now: it is not shown again.");
            Console.Out.WriteLine(plaintext);
            return 0;
        }, ct));
        apikey.Subcommands.Add(create);

        var list = new Command("list", "List keys (never the keys themselves).");
        list.SetAction((_, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            Console.WriteLine("id\tname\tscopes\tprefix\tcreated\trevoked");
            foreach (var k in await sp.GetRequiredService<ApiKeyService>().ListAsync(c))
                Console.WriteLine($"{k.Id:D}\t{k.Name}\t{k.Scopes}\tsk_{k.Prefix}…\t{k.CreatedAt:O}\t{(k.RevokedAt is { } r ? r.ToString("O") : "-")}");
            return 0;
        }, ct));
        apikey.Subcommands.Add(list);

        var id = new Argument<Guid>("id") { Description = "The key's id, as `apikey list` shows it." };
        var revoke = new Command("revoke", "Revoke a key at once.") { id };
        revoke.SetAction((parse, ct) => WithServicesAsync(true, async (sp, c) =>
        {
            var keyId = parse.GetValue(id);
            if (await sp.GetRequiredService<ApiKeyService>().RevokeAsync(keyId, c))
            {
                Console.WriteLine($"Revoked {keyId:D}.");
                return 0;
            }
            Console.Error.WriteLine($"satsub: no API key {keyId:D}.");
            return 1;
        }, ct));
        apikey.Subcommands.Add(revoke);
        return apikey;
    }

    private static async Task<int> ServeAsync(string[] args, CancellationToken ct)
    {
        var app = SatsubApp.CreateBuilder(args).Build();
        app.MapSatsub();
        return await GuardAsync(async () =>
        {
            // Checked before the host starts, so a mistake prints one line per setting, not a stack trace.
            SatsubApp.ValidateOptions(app.Services);
            var readiness = app.Services.GetRequiredService<DatabaseReadiness>(); // RunAsync disposes the services
            await app.RunAsync(ct);
            // Migrations run in the background while Kestrel starts; if they failed, fail as before.
            readiness.ThrowIfFailed();
            return 0;
        });
    }

    private static async Task<int> WithServicesAsync(bool migrate, Func<IServiceProvider, CancellationToken, Task<int>> action, CancellationToken ct)
    {
        await using var app = SatsubApp.CreateBuilder([], forCommandLine: true).Build();
        return await GuardAsync(async () =>
        {
            await SatsubApp.PrepareAsync(app.Services, migrate, ct);
            await using var scope = app.Services.CreateAsyncScope();
            return await action(scope.ServiceProvider, ct);
        });
    }

    /// <summary>Turns configuration mistakes into one line per problem and exit code 2, without a stack trace.</summary>
    private static async Task<int> GuardAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures) Console.Error.WriteLine($"satsub: configuration error: {failure}");
            return 2;
        }
        catch (InvalidOperationException ex) when (ex.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"satsub: configuration error: {ex.Message}");
            return 2;
        }
        catch (DomainException ex)
        {
            Console.Error.WriteLine($"satsub: {ex.Message}");
            return 1;
        }
    }
}
