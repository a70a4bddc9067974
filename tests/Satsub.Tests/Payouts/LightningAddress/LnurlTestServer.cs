using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using W = Satsub.Tests.Payouts.Lightning.Bolt11TestWriter;

namespace Satsub.Tests.Payouts.LightningAddress;

/// <summary>
/// An LNURL-pay service as LUD-06 and LUD-16 describe it, on Kestrel over https with a self-signed certificate
/// made here for <see cref="Domain"/>: only a client that pins this certificate can talk to it. Its callback signs
/// a real BOLT #11 invoice for the requested amount with h = SHA-256(metadata). Each property bends one rule, for
/// the cases a payer must refuse.
/// </summary>
internal sealed class LnurlTestServer : IAsyncDisposable
{
    public const string Domain = "payee.example";
    public const string Name = "alice";
    public const string CallbackQuery = "k1=5ecret&tag=payout";

    private readonly WebApplication app;
    private int callbackRequests;
    private int wellKnownRequests;

    private LnurlTestServer(WebApplication app, X509Certificate2 certificate, int port)
    {
        this.app = app;
        Certificate = certificate;
        Port = port;
    }

    public X509Certificate2 Certificate { get; }

    public int Port { get; }

    public int CallbackRequests => Volatile.Read(ref callbackRequests);

    public int WellKnownRequests => Volatile.Read(ref wellKnownRequests);

    /// <summary>The user name the last well-known request asked for.</summary>
    public string? LastWellKnownName { get; private set; }

    /// <summary>The query string the last callback request carried.</summary>
    public string? LastCallbackQuery { get; private set; }

    // ------------------------------------------------ behaviour, LUD-06 exact unless a test changes it

    public string Metadata { get; set; } =
        JsonSerializer.Serialize(new[] { new[] { "text/plain", "Satsub payout to alice" }, new[] { "text/identifier", $"{Name}@{Domain}" } });

    public long MinSendable { get; set; } = 1_000;

    public long MaxSendable { get; set; } = 1_000_000_000;

    /// <summary>Replaces the callback URL; by default https on this server, with query parameters of its own.</summary>
    public string? Callback { get; set; }

    /// <summary>Replaces the whole first answer, e.g. with malformed JSON.</summary>
    public string? WellKnownBody { get; set; }

    public int WellKnownStatus { get; set; } = 200;

    public string? WellKnownLocation { get; set; }

    /// <summary>Replaces the whole callback answer.</summary>
    public string? CallbackBody { get; set; }

    public TimeSpan CallbackDelay { get; set; }

    /// <summary>Added to the requested amount in the invoice (a dishonest or buggy service).</summary>
    public long InvoiceAmountDeltaMsat { get; set; }

    /// <summary>The text whose hash goes into h; the metadata by default.</summary>
    public string? DescriptionHashOf { get; set; }

    public string InvoicePrefix { get; set; } = "lnbc";

    public TimeSpan InvoiceAge { get; set; }

    public long InvoiceExpirySeconds { get; set; } = 600;

    public string DefaultCallback => $"https://{Domain}:{Port}/lnurlp/{Name}/callback?{CallbackQuery}";

    public static async Task<LnurlTestServer> StartAsync(bool https = true)
    {
        var certificate = CreateCertificate();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (https)
                listen.UseHttps(certificate);
        }));
        var app = builder.Build();
        LnurlTestServer? server = null;
        app.MapGet("/.well-known/lnurlp/{name}", (string name, HttpContext context) => server!.WellKnownAsync(name, context));
        app.MapGet("/lnurlp/{name}/callback", (string name, HttpContext context) => server!.CallbackAsync(context));
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        server = new LnurlTestServer(app, certificate, new Uri(address).Port);
        return server;
    }

    /// <summary>Test DNS: the service's name and "internal.example" are this machine.</summary>
    public static Task<IPAddress[]> Resolve(string host, CancellationToken cancellationToken) =>
        host is Domain or "internal.example"
            ? Task.FromResult(new[] { IPAddress.Loopback })
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));

    /// <summary>Trusts this server's certificate and nothing else.</summary>
    public bool TrustOnlyThisCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && certificate.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(Certificate.GetCertHash(HashAlgorithmName.SHA256));

    /// <summary>A Lightning Address has no port: send the client's requests for port 443 of the domain to this server's port.</summary>
    public DelegatingHandler PortRedirector(HttpMessageHandler inner) => new ToPort(Port) { InnerHandler = inner };

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
        Certificate.Dispose();
    }

    private async Task WellKnownAsync(string name, HttpContext context)
    {
        Interlocked.Increment(ref wellKnownRequests);
        if (WellKnownLocation is not null)
        {
            context.Response.StatusCode = 302;
            context.Response.Headers.Location = WellKnownLocation;
            return;
        }
        LastWellKnownName = name;
        // LUD-16: a service that supports tags strips "+tag" and serves the user.
        if (name.Split('+', 2)[0] != Name)
        {
            await WriteJsonAsync(context, 404, JsonSerializer.Serialize(new { status = "ERROR", reason = "No such user." }));
            return;
        }
        var body = WellKnownBody ?? JsonSerializer.Serialize(new
        {
            callback = Callback ?? DefaultCallback,
            maxSendable = MaxSendable,
            minSendable = MinSendable,
            metadata = Metadata,
            commentAllowed = 0,
            tag = "payRequest",
        });
        await WriteJsonAsync(context, WellKnownStatus, body);
    }

    private async Task CallbackAsync(HttpContext context)
    {
        Interlocked.Increment(ref callbackRequests);
        LastCallbackQuery = context.Request.QueryString.Value;
        if (CallbackDelay > TimeSpan.Zero)
            await Task.Delay(CallbackDelay, context.RequestAborted);
        if (CallbackBody is not null)
        {
            await WriteJsonAsync(context, 200, CallbackBody);
            return;
        }

        var query = context.Request.Query;
        if (query["k1"] != "5ecret" || query["tag"] != "payout")
        {
            await WriteJsonAsync(context, 200, JsonSerializer.Serialize(new { status = "ERROR", reason = "The callback's own parameters were lost." }));
            return;
        }
        if (!long.TryParse(query["amount"], NumberStyles.None, CultureInfo.InvariantCulture, out var amount)
            || amount < MinSendable || amount > MaxSendable)
        {
            await WriteJsonAsync(context, 200, JsonSerializer.Serialize(new { status = "ERROR", reason = "Amount out of range." }));
            return;
        }
        var pr = SignInvoice(amount + InvoiceAmountDeltaMsat, DescriptionHashOf ?? Metadata);
        await WriteJsonAsync(context, 200, JsonSerializer.Serialize(new { pr, routes = Array.Empty<object>() }));
    }

    private string SignInvoice(long amountMsat, string hashed)
    {
        // A p (pico-bitcoin) amount is ten times the millisatoshis and always exact.
        var hrp = InvoicePrefix + (amountMsat * 10).ToString(CultureInfo.InvariantCulture) + "p";
        var timestamp = DateTimeOffset.UtcNow.Subtract(InvoiceAge).ToUnixTimeSeconds();
        return W.Write(hrp, timestamp,
        [
            W.PaymentHashField(),
            W.SecretField(),
            (W.H, W.ToWords(SHA256.HashData(Encoding.UTF8.GetBytes(hashed)))),
            (W.X, W.UInt(InvoiceExpirySeconds)),
        ]);
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, string body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body, context.RequestAborted);
    }

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Domain}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(Domain);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS #12 so the private key is usable by the TLS stack on every platform.
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), password: null);
    }

    private sealed class ToPort(int port) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri is { Host: Domain, Port: 443 } uri)
                request.RequestUri = new UriBuilder(uri) { Port = port }.Uri;
            return base.SendAsync(request, cancellationToken);
        }
    }
}
