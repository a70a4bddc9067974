using CsCheck;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Satsub.Common;
using Satsub.Ledger;
using Satsub.Payments;
using Satsub.Payments.Inbox;
using Satsub.Payments.Reconciliation;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payments.Inbox;

public class ScriptedSqliteFixture() : DatabaseFixture(DbKind.Sqlite)
{
    public ScriptedProvider Provider { get; } = new();

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddKeyedSingleton<IPaymentProvider>(ScriptedProvider.ProviderName, Provider);
        services.AddKeyedSingleton<IWebhookAuthenticator>(ScriptedProvider.ProviderName, Provider);
    }
}

public sealed class ScriptedPostgresFixture() : DatabaseFixture(DbKind.Postgres)
{
    public ScriptedProvider Provider { get; } = new();

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddKeyedSingleton<IPaymentProvider>(ScriptedProvider.ProviderName, Provider);
        services.AddKeyedSingleton<IWebhookAuthenticator>(ScriptedProvider.ProviderName, Provider);
    }
}

public sealed class PaymentInboxTests_Sqlite(ScriptedSqliteFixture fx) : PaymentInboxTests<ScriptedSqliteFixture>(fx, fx.Provider);

public sealed class PaymentInboxTests_Postgres(ScriptedPostgresFixture fx) : PaymentInboxTests<ScriptedPostgresFixture>(fx, fx.Provider);

public abstract class PaymentInboxTests<TFixture>(TFixture fx, ScriptedProvider provider) : IClassFixture<TFixture> where TFixture : DatabaseFixture
{
    private SatsubServices App => fx.App;

    private static string NewId() => "pi_" + Guid.NewGuid().ToString("N");

    private async Task<(Satsub.Users.User Referrer, Invoice Invoice)> OpenAsync(long amount = 10_000)
    {
        var referrer = await App.RegisterAsync();
        var buyer = await App.RegisterAsync(referrer.ReferralCode);
        return (referrer, await App.OpenInvoiceAsync(buyer.Id, ScriptedProvider.ProviderName, NewId(), amount));
    }

    private Task<bool> RecordAsync(string eventId, string providerInvoiceId) =>
        App.WithAsync<WebhookRecorder, bool>(r => r.RecordAsync(ScriptedProvider.ProviderName, new WebhookNotification(eventId, providerInvoiceId, "test"), default));

    private Task<int> ProcessAsync() => App.WithAsync<PaymentInbox, int>(i => i.ProcessDueAsync(default));

    private Task<Invoice> InvoiceAsync(Guid id) => App.DbAsync(db => db.Invoices.AsNoTracking().SingleAsync(i => i.Id == id));

    [Fact]
    public async Task Batch_OfManyInvoices_SettlesEachOnceAndKeepsEachInvoicesEventsInOrder()
    {
        // One batch holding 20 invoices' events, two per invoice: on PostgreSQL they are processed in parallel lanes.
        var invoices = new List<(Satsub.Users.User Referrer, Invoice Invoice)>();
        for (var i = 0; i < 20; i++) invoices.Add(await OpenAsync());
        foreach (var (_, invoice) in invoices)
            provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled);
        foreach (var (_, invoice) in invoices) Assert.True(await RecordAsync("first-" + invoice.Id, invoice.ProviderInvoiceId));
        foreach (var (_, invoice) in invoices) Assert.True(await RecordAsync("second-" + invoice.Id, invoice.ProviderInvoiceId));

        // Other tests of the class share the database: drain whatever is due.
        while (await ProcessAsync() > 0) { }

        foreach (var (referrer, invoice) in invoices)
        {
            Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
            Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
            Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
            // The earlier event of an invoice is processed first: it settles, the later one finds it settled.
            Assert.Equal("settled", (await App.DbAsync(db => db.PaymentEvents.SingleAsync(x => x.EventId == "first-" + invoice.Id))).Outcome);
            Assert.Equal("already_settled", (await App.DbAsync(db => db.PaymentEvents.SingleAsync(x => x.EventId == "second-" + invoice.Id))).Outcome);
        }
        Assert.Empty(await App.DbAsync(db => LedgerBook.UnbalancedPostingsAsync(db, default)));
    }

    [Fact]
    public async Task ConcurrentDeliveries_AreWrittenTogether_AndEachEventIsNewExactlyOnce()
    {
        // 12 events delivered 4 times each by 48 concurrent requests: the recorder groups them into few statements, and
        // whatever the grouping (two copies in one statement, or in two), exactly one delivery of each event is "new".
        var (_, invoice) = await OpenAsync();
        var deliveries = Enumerable.Range(0, 48).Select(i => $"burst-{invoice.Id:N}-{i % 12}").OrderBy(_ => Random.Shared.Next()).ToList();
        var answers = await Task.WhenAll(deliveries.Select(id => Task.Run(() => RecordAsync(id, invoice.ProviderInvoiceId))));

        var news = deliveries.Zip(answers).Where(x => x.Second).Select(x => x.First).ToList();
        Assert.Equal(12, news.Count);
        Assert.Equal(12, news.Distinct().Count());
        var prefix = $"burst-{invoice.Id:N}-";
        var rows = await App.DbAsync(db => db.PaymentEvents.AsNoTracking().Where(e => e.EventId.StartsWith(prefix)).ToListAsync());
        Assert.Equal(12, rows.Count);
        Assert.All(rows, e => Assert.Equal((invoice.Id, invoice.ProviderInvoiceId, (DateTimeOffset?)null), (e.InvoiceId!.Value, e.ProviderInvoiceId!, e.ProcessedAt)));
        // Other tests of the class share the database (and the scripted provider's injected failures): leave nothing due.
        while (await ProcessAsync() > 0) { }
    }

    [Fact]
    public async Task Delivery_ForAnInvoiceSatsubDoesNotKnow_IsRecordedWithoutAnInvoice()
    {
        var unknown = NewId();
        Assert.True(await RecordAsync("stray-" + unknown, unknown));
        var row = await App.DbAsync(db => db.PaymentEvents.AsNoTracking().SingleAsync(e => e.EventId == "stray-" + unknown));
        Assert.Null(row.InvoiceId);
        Assert.Equal(unknown, row.ProviderInvoiceId);
        while (await ProcessAsync() > 0) { }
    }

    [Fact]
    public async Task Webhook_Verified_IsRecordedOnceAndSettlesFromTheRefetchedState()
    {
        var (referrer, invoice) = await OpenAsync();
        provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled);

        Assert.True(await RecordAsync("d1-" + invoice.Id, invoice.ProviderInvoiceId));
        Assert.False(await RecordAsync("d1-" + invoice.Id, invoice.ProviderInvoiceId));
        await ProcessAsync();

        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
        Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
        var e = await App.DbAsync(db => db.PaymentEvents.SingleAsync(x => x.EventId == "d1-" + invoice.Id));
        Assert.Equal("settled", e.Outcome);
        Assert.Equal(invoice.Id, e.InvoiceId);
    }

    [Fact]
    public async Task Webhook_WhenTheProviderIsDown_IsRetriedWithBackoffAndThenSettles()
    {
        var (_, invoice) = await OpenAsync();
        provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled);
        await RecordAsync("down-" + invoice.Id, invoice.ProviderInvoiceId);
        Interlocked.Exchange(ref provider.FailuresToInject, 1);

        await ProcessAsync();
        var pending = await App.DbAsync(db => db.PaymentEvents.SingleAsync(x => x.EventId == "down-" + invoice.Id));
        Assert.Null(pending.ProcessedAt);
        Assert.Equal(1, pending.Attempts);
        Assert.True(pending.NextAttemptAt > App.Clock.GetUtcNow());
        Assert.Equal(InvoiceStatus.New, (await InvoiceAsync(invoice.Id)).Status);

        App.Clock.Advance(TimeSpan.FromSeconds(3));
        await ProcessAsync();
        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
    }

    [Fact]
    public async Task Webhook_ForAnUnknownInvoice_IsFlaggedAndDone()
    {
        var unknown = NewId();
        await RecordAsync("ghost-" + unknown, unknown);
        await ProcessAsync();
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.Kind == "webhook_unknown_invoice" && f.Subject.Contains(unknown))));
        Assert.Equal("unknown_invoice", (await App.DbAsync(db => db.PaymentEvents.SingleAsync(x => x.EventId == "ghost-" + unknown))).Outcome);
    }

    [Fact]
    public async Task OverpaidInvoice_IsSettledAtThePlanPriceAndReported()
    {
        var (referrer, invoice) = await OpenAsync();
        provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled, PaymentException.PaidOver, new Sats(15_000));
        await RecordAsync("over-" + invoice.Id, invoice.ProviderInvoiceId);
        await ProcessAsync();

        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
        Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.Kind == "payment_paid_over" && f.Subject.Contains(invoice.Id.ToString()))));
    }

    [Fact]
    public async Task PartiallyPaidInvoice_IsNeverSettledButReported()
    {
        var (_, invoice) = await OpenAsync();
        provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Expired, PaymentException.PaidPartial, new Sats(4_000));
        await RecordAsync("partial-" + invoice.Id, invoice.ProviderInvoiceId);
        await ProcessAsync();

        Assert.Equal(InvoiceStatus.Expired, (await InvoiceAsync(invoice.Id)).Status);
        Assert.Equal(0, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.Kind == "payment_paid_partial" && f.Subject.Contains(invoice.Id.ToString()))));
    }

    [Fact]
    public async Task Storm_AnyOrderAndNumberOfDeliveries_EndsInExactlyOneSettlement() =>
        await Gen.Select(Gen.Int[1, 4].Array[1, 12], Gen.Bool).SampleAsync(async (deliveries, settleEarly) =>
        {
            var (referrer, invoice) = await OpenAsync();
            var pid = invoice.ProviderInvoiceId;
            // The provider's truth moves forward over time: processing, then settled.
            provider.States[pid] = new ProviderInvoiceState(pid, settleEarly ? ProviderInvoiceStatus.Settled : ProviderInvoiceStatus.Processing);
            for (var i = 0; i < deliveries.Length; i++)
            {
                await RecordAsync($"{pid}-evt-{deliveries[i]}", pid);
                if (i % 3 == 2) await ProcessAsync();
                if (i == deliveries.Length / 2) provider.States[pid] = new ProviderInvoiceState(pid, ProviderInvoiceStatus.Settled);
            }
            await RecordAsync($"{pid}-evt-final", pid);
            provider.States[pid] = new ProviderInvoiceState(pid, ProviderInvoiceStatus.Settled);
            while (await ProcessAsync() > 0) { }

            Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
            Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
            Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
        }, iter: 12, threads: 1);

    [Fact]
    public async Task Reconciliation_SettlesAnInvoiceWhoseWebhookWasLost_Once()
    {
        var (referrer, invoice) = await OpenAsync();
        provider.States[invoice.ProviderInvoiceId] = new ProviderInvoiceState(invoice.ProviderInvoiceId, ProviderInvoiceStatus.Settled);

        await App.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));
        await App.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));

        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
        Assert.Equal(5000, (await App.DbAsync(db => LedgerBook.AffiliateBalanceAsync(db, referrer.Id, default))).Pending.Value);
    }

    [Fact]
    public async Task Reconciliation_RereadsASettledInvoiceOnceAnHourAndOnceADayAfter_AndFlagsItWhenTheProviderCallsItInvalid()
    {
        var (_, invoice) = await OpenAsync();
        var id = invoice.ProviderInvoiceId;
        provider.States[id] = new ProviderInvoiceState(id, ProviderInvoiceStatus.Settled);
        Task<int> ReconcileAsync() => App.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));
        int Reads() => provider.FetchesOf.GetValueOrDefault(id);

        await ReconcileAsync();
        await ReconcileAsync();
        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);
        Assert.Equal(1, Reads()); // settled by the first pass; not re-read while it is younger than an hour

        // An hour later the provider calls it invalid (a double spend): the re-read flags it, once.
        provider.States[id] = new ProviderInvoiceState(id, ProviderInvoiceStatus.Invalid);
        App.Clock.Advance(TimeSpan.FromMinutes(61));
        Assert.True(await ReconcileAsync() >= 1);
        await ReconcileAsync();
        Assert.Equal(2, Reads());
        var flagKey = $"settled-then-invalid:{invoice.Id:D}";
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.DedupeKey == flagKey)));

        App.Clock.Advance(TimeSpan.FromDays(1));
        await ReconcileAsync();
        await ReconcileAsync();
        Assert.Equal(3, Reads());
        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status); // flagged for the owner, never unsettled
        Assert.Equal(1, await App.DbAsync(db => db.LedgerPostings.CountAsync(p => p.InvoiceId == invoice.Id)));
    }

    [Fact]
    public async Task Reconciliation_RetriesASettledInvoiceItCouldNotReread_AtTheNextPass()
    {
        var (_, invoice) = await OpenAsync();
        var id = invoice.ProviderInvoiceId;
        provider.States[id] = new ProviderInvoiceState(id, ProviderInvoiceStatus.Settled);
        Task<int> ReconcileAsync() => App.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));
        await ReconcileAsync();
        Assert.Equal(InvoiceStatus.Settled, (await InvoiceAsync(invoice.Id)).Status);

        App.Clock.Advance(TimeSpan.FromMinutes(61));
        provider.States[id] = new ProviderInvoiceState(id, ProviderInvoiceStatus.Invalid);
        provider.Failing[id] = true;
        await ReconcileAsync();
        Assert.Equal(2, provider.FetchesOf[id]);
        var flagKey = $"settled-then-invalid:{invoice.Id:D}";
        Assert.Equal(0, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.DedupeKey == flagKey)));

        provider.Failing.TryRemove(id, out _);
        App.Clock.Advance(TimeSpan.FromMinutes(5));
        await ReconcileAsync();
        await ReconcileAsync();
        Assert.Equal(3, provider.FetchesOf[id]);
        Assert.Equal(1, await App.DbAsync(db => db.AdminFlags.CountAsync(f => f.DedupeKey == flagKey)));
    }

    [Fact]
    public async Task Reconciliation_ExpiresSandboxInvoicesWhoseTimeIsUp()
    {
        var buyer = await App.RegisterAsync();
        var invoice = await App.BuyAsync(buyer.Id);
        App.Clock.Advance(TimeSpan.FromMinutes(31));

        await App.WithAsync<Reconciler, int>(r => r.RunOnceAsync(default));

        Assert.Equal(InvoiceStatus.Expired, (await InvoiceAsync(invoice.Id)).Status);
    }

    [Fact]
    public async Task Endpoint_AuthenticatesBeforeRecording()
    {
        var (_, invoice) = await OpenAsync();
        var (body, signature) = ScriptedProvider.Webhook("http-" + invoice.Id, invoice.ProviderInvoiceId);

        Assert.Equal(401, await PostAsync(ScriptedProvider.ProviderName, body, "00" + signature[2..]));
        Assert.Equal(401, await PostAsync(ScriptedProvider.ProviderName, body, null));
        Assert.Equal(0, await App.DbAsync(db => db.PaymentEvents.CountAsync(e => e.EventId == "http-" + invoice.Id)));

        Assert.Equal(200, await PostAsync(ScriptedProvider.ProviderName, body, signature));
        Assert.Equal(200, await PostAsync(ScriptedProvider.ProviderName, body, signature));
        Assert.Equal(1, await App.DbAsync(db => db.PaymentEvents.CountAsync(e => e.EventId == "http-" + invoice.Id)));
        Assert.Equal(404, await PostAsync("nosuchprovider", body, signature));
    }

    private async Task<int> PostAsync(string providerName, byte[] body, string? signature)
    {
        await using var scope = App.Scope();
        var sp = scope.ServiceProvider;
        var context = new DefaultHttpContext { RequestServices = sp };
        context.Request.Method = "POST";
        context.Request.Body = new MemoryStream(body);
        context.Request.ContentLength = body.Length;
        if (signature is not null) context.Request.Headers["X-Test-Sig"] = signature;
        var result = await WebhookIntakeApi.ReceiveAsync(providerName, context.Request, sp.GetRequiredService<PaymentProviders>(),
            sp.GetRequiredService<WebhookRecorder>(), sp.GetRequiredService<PaymentInboxWorker>(), NullLogger<PaymentInbox>.Instance, default);
        return result.Result switch
        {
            Ok<WebhookAccepted> => 200,
            ProblemHttpResult p => p.StatusCode,
            NotFound<ProblemDetails> => 404,
            _ => 0,
        };
    }
}
