using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Integrations.Webhooks;

/// <summary>One request as the receiver saw it: the raw body bytes and the headers that matter.</summary>
public sealed record ReceivedWebhook(byte[] Body, string? Signature, string? ContentType, string? UserAgent)
{
    public JsonElement Json => JsonDocument.Parse(Body).RootElement.Clone();

    public string Type => Json.GetProperty("type").GetString()!;

    public string Id => Json.GetProperty("id").GetString()!;
}

/// <summary>A local webhook receiver (Kestrel on 127.0.0.1) that records every POST and answers what <see cref="Respond"/> says.</summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    private readonly LocalHttpServer server;

    private WebhookReceiver(LocalHttpServer server) => this.server = server;

    public ConcurrentQueue<ReceivedWebhook> Received { get; } = new();

    /// <summary>The status to answer for the n-th request (1-based); 200 by default.</summary>
    public Func<int, int> Respond { get; set; } = _ => 200;

    public Uri Url => new(server.BaseUri, "hook");

    public static async Task<WebhookReceiver> StartAsync()
    {
        WebhookReceiver? receiver = null;
        var server = await LocalHttpServer.StartAsync(app => app.MapPost("/hook", async (HttpContext http) =>
        {
            using var buffer = new MemoryStream();
            await http.Request.Body.CopyToAsync(buffer);
            var r = receiver!;
            r.Received.Enqueue(new ReceivedWebhook(buffer.ToArray(), http.Request.Headers["Satsub-Signature"].ToString(),
                http.Request.ContentType, http.Request.Headers.UserAgent.ToString()));
            return Results.StatusCode(r.Respond(r.Received.Count));
        }));
        receiver = new WebhookReceiver(server);
        return receiver;
    }

    public ValueTask DisposeAsync() => server.DisposeAsync();

    /// <summary>
    /// Verifies a Satsub-Signature the way a receiver would, written independently of Satsub's code: split
    /// <c>t=…,v1=…</c>, HMAC-SHA256 over the ASCII bytes of "t." followed by the exact body bytes, compare in constant time.
    /// </summary>
    public static bool Verify(string secret, string? header, byte[] body, out long timestamp)
    {
        timestamp = 0;
        if (string.IsNullOrEmpty(header)) return false;
        string? t = null, v1 = null;
        foreach (var part in header.Split(','))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2) continue;
            if (kv[0] == "t") t = kv[1];
            else if (kv[0] == "v1") v1 = kv[1];
        }
        if (t is null || v1 is null || !long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out timestamp)) return false;
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        hmac.TransformBlock(Encoding.ASCII.GetBytes(t + "."), 0, t.Length + 1, null, 0);
        hmac.TransformFinalBlock(body, 0, body.Length);
        var expected = hmac.Hash!;
        byte[] given;
        try { given = Convert.FromHexString(v1); }
        catch (FormatException) { return false; }
        return CryptographicOperations.FixedTimeEquals(expected, given);
    }
}
