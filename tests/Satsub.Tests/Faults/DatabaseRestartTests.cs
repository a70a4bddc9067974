using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Satsub.ApiKeys;
using Satsub.Tests.Payments.Providers.BtcPay;
using Xunit.Abstractions;

namespace Satsub.Tests.Faults;

/// <summary>
/// PostgreSQL (a cluster of the test's own) is stopped while the real <c>satsub serve</c> takes webhooks, API reads and
/// health checks, then started again. While it is down every answer is a 503 problem (never a 500, never a wrong
/// body), webhooks are refused so BTCPay retries, and <c>/health</c> is unhealthy; afterwards the server recovers by
/// itself and every invoice is settled exactly once.
/// </summary>
[Collection(FaultsCollection.Name)]
public sealed class DatabaseRestartTests(ITestOutputHelper output)
{
    private sealed record Answer(string Kind, int Status, string? MediaType, string? Code, TimeSpan At);

    [InitdbFact]
    public async Task PostgresStopsMidLoad_Answers503NotErrors_ThenRecoversByItself_NothingLost()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        await postgres.CreateDatabaseAsync("satsub");
        await using var btcpay = await FakeBtcPayServer.StartAsync(NBitcoin.Network.RegTest);
        var settings = BtcPaySettings.For(btcpay);
        settings["Database:Provider"] = "postgres";
        settings["ConnectionStrings:Satsub"] = postgres.ConnectionString("satsub");

        var rng = new Random(4_242);
        List<OpenSale> sales;
        string key;
        await using (var host = await FaultHost.StartAsync(settings))
        {
            sales = await Sales.OpenAsync(host.Services, rng, buyers: 40, invoices: 120);
            (_, key) = await host.WithAsync<ApiKeyService, (ApiKey, string)>(k => k.CreateAsync("faults", "admin", default));
        }
        Sales.PayAll(btcpay, sales);
        var deliveries = Sales.Deliveries(btcpay, sales, rng, ("InvoiceSettled", 2));
        var users = sales.Select(s => s.BuyerId).Distinct().ToArray();

        await using var server = await ServeProcess.StartAsync(FreePort.Next(), settings);
        using var http = new HttpClient { BaseAddress = server.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var answers = new ConcurrentQueue<Answer>();
        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource();

        async Task RecordAsync(string kind, HttpResponseMessage response, Guid? expectedUser = null)
        {
            string? code = null;
            var text = await response.Content.ReadAsStringAsync();
            if (response.Content.Headers.ContentType?.MediaType == "application/problem+json")
                code = JsonDocument.Parse(text).RootElement.TryGetProperty("code", out var c) ? c.GetString() : null;
            if (expectedUser is { } id && response.StatusCode == HttpStatusCode.OK
                && JsonDocument.Parse(text).RootElement.GetProperty("user_id").GetString() != id.ToString("D"))
                code = "WRONG_USER";
            answers.Enqueue(new Answer(kind, (int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, code, clock.Elapsed));
        }

        // Readers: a user's profile (balances, referrals, rank), over and over.
        var readers = Enumerable.Range(0, 3).Select(r => Task.Run(async () =>
        {
            var i = r;
            while (!stop.IsCancellationRequested)
            {
                var user = users[i++ % users.Length];
                using var response = await http.GetAsync($"api/v1/users/{user:D}");
                await RecordAsync("read", response, user);
                await Task.Delay(20);
            }
        })).ToList();
        var health = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var response = await http.GetAsync("health");
                await RecordAsync("health", response);
                await Task.Delay(100);
            }
        });

        // The webhooks, with a wrapper that records each answer.
        var webhooks = new WebhookSender(http, new Uri(server.BaseUri, "api/v1/webhooks/btcpay"));
        var sending = webhooks.SendAllAsync(deliveries, senders: 4, retryDelay: TimeSpan.FromMilliseconds(200), within: TimeSpan.FromSeconds(120));

        while (webhooks.Accepted < deliveries.Count / 3 && !sending.IsCompleted) await Task.Delay(5);
        var stoppedAt = clock.Elapsed;
        await postgres.StopServerAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: PostgreSQL stopped after {webhooks.Accepted} accepted webhooks");
        // Keep the load on while it is down, long enough to see every kind of request refused.
        await Eventually.HoldsAsync(() => Task.FromResult(
                answers.Any(a => a.Kind == "health" && a.At > stoppedAt && a.Status == 503)
                && answers.Count(a => a.Kind == "read" && a.At > stoppedAt && a.Status == 503) >= 5
                && webhooks.Statuses.GetValueOrDefault(503) >= 5),
            TimeSpan.FromSeconds(30), () => Task.FromResult("no 503 seen while the database was down:\n" + Summary(answers)));
        var restartedAt = clock.Elapsed;
        await postgres.StartServerAsync();
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: PostgreSQL started again");

        await sending;
        await Eventually.HoldsAsync(() => Task.FromResult(answers.Any(a => a.Kind == "read" && a.At > restartedAt && a.Status == 200)
                                                          && answers.Any(a => a.Kind == "health" && a.At > restartedAt && a.Status == 200)),
            TimeSpan.FromSeconds(30), () => Task.FromResult("the server did not recover:\n" + Summary(answers)));
        await stop.CancelAsync();
        await Task.WhenAll(readers.Append(health));
        output.WriteLine(Summary(answers));
        output.WriteLine("webhooks: " + string.Join(", ", webhooks.Statuses.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}×{kv.Value}")));

        // Only right answers and 503 problems; every 503 says what it is.
        Assert.DoesNotContain(answers, a => a.Status is not (200 or 503) || a.Code == "WRONG_USER");
        Assert.All(answers.Where(a => a.Status == 503 && a.Kind == "read"), a =>
        {
            Assert.Equal("application/problem+json", a.MediaType);
            Assert.Equal("database_unavailable", a.Code);
        });
        Assert.True(webhooks.Statuses.Keys.All(s => s is 200 or 503), "webhooks: " + string.Join(", ", webhooks.Statuses.Keys));

        // Nothing lost: every invoice settled exactly once once the inbox caught up; the outbox drained.
        var database = postgres.ConnectionString("satsub");
        await Eventually.HoldsAsync(
            () => FaultDb.QueryAsync(database, async db =>
                !await db.PaymentEvents.AnyAsync(e => e.ProcessedAt == null) && !await db.OutboxMessages.AnyAsync(m => m.CompletedAt == null)),
            TimeSpan.FromSeconds(90),
            () => FaultDb.QueryAsync(database, async db => $"{await db.PaymentEvents.CountAsync(e => e.ProcessedAt == null)} events unprocessed\n{server.Output}"));
        await using var db = FaultDb.Open(database);
        await Sales.AssertSettledOnceAsync(db, sales);
    }

    private static string Summary(IEnumerable<Answer> answers) => string.Join(", ",
        answers.GroupBy(a => (a.Kind, a.Status, a.Code)).OrderBy(g => g.Key.Kind).ThenBy(g => g.Key.Status)
            .Select(g => $"{g.Key.Kind} {g.Key.Status}{(g.Key.Code is null ? "" : " " + g.Key.Code)} ×{g.Count()}"));
}
