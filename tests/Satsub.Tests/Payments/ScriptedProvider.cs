using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Satsub.Payments;

namespace Satsub.Tests.Payments;

/// <summary>
/// A test double for the provider side of the inbox and reconciliation tests: the test scripts what the
/// provider says about each invoice. Its webhooks are JSON bodies signed with a test HMAC key.
/// </summary>
public sealed class ScriptedProvider : IPaymentProvider, IWebhookAuthenticator
{
    public const string ProviderName = "scripted";
    public static readonly byte[] Secret = Encoding.UTF8.GetBytes("test-webhook-secret");

    public ConcurrentDictionary<string, ProviderInvoiceState> States { get; } = new();
    public int FailuresToInject;
    public int Fetches;
    /// <summary>Reads per provider invoice id.</summary>
    public ConcurrentDictionary<string, int> FetchesOf { get; } = new();
    /// <summary>Provider invoice ids whose every read fails.</summary>
    public ConcurrentDictionary<string, bool> Failing { get; } = new();

    public string Name => ProviderName;
    public string Provider => ProviderName;
    public bool ConvertsFiat => false;

    public Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct) => throw new NotSupportedException();

    public Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        Interlocked.Increment(ref Fetches);
        FetchesOf.AddOrUpdate(providerInvoiceId, 1, (_, n) => n + 1);
        if (Failing.ContainsKey(providerInvoiceId)) throw new HttpRequestException("provider down for " + providerInvoiceId);
        if (Interlocked.Decrement(ref FailuresToInject) >= 0) throw new HttpRequestException("provider down");
        return Task.FromResult(States.TryGetValue(providerInvoiceId, out var s) ? s : new ProviderInvoiceState(providerInvoiceId, ProviderInvoiceStatus.New));
    }

    public WebhookNotification? Authenticate(IHeaderDictionary headers, ReadOnlySpan<byte> body)
    {
        var sig = headers["X-Test-Sig"].ToString();
        var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Secret, body));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(sig), Encoding.ASCII.GetBytes(expected))) return null;
        using var doc = JsonDocument.Parse(body.ToArray());
        return new WebhookNotification(doc.RootElement.GetProperty("id").GetString()!, doc.RootElement.GetProperty("invoice").GetString(), "test");
    }

    public static (byte[] Body, string Signature) Webhook(string eventId, string providerInvoiceId)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new { id = eventId, invoice = providerInvoiceId });
        return (body, Convert.ToHexStringLower(HMACSHA256.HashData(Secret, body)));
    }
}
