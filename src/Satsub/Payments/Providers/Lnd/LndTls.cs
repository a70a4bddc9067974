using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// Certificate pinning for LND's self-signed <c>tls.cert</c>. The pin replaces chain and name checks: a node's
/// certificate names whatever addresses LND was told about, not necessarily the one we dial, so the only thing
/// that proves we talk to our node is the certificate itself (its SHA-256 over the DER bytes).
/// </summary>
internal static class LndTls
{
    /// <summary>The primary handler for LND clients; pinned when the options name a certificate.</summary>
    public static SocketsHttpHandler CreateHandler(LndOptions options, bool tcpKeepAlive = false)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
        };
        var pin = PinOf(options);
        if (pin is not null)
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, _) => Matches(certificate, pin) };
        if (tcpKeepAlive) handler.ConnectCallback = ConnectWithKeepAliveAsync;
        return handler;
    }

    public static byte[]? PinOf(LndOptions options) =>
        !string.IsNullOrWhiteSpace(options.TlsCertThumbprint) ? ParseThumbprint(options.TlsCertThumbprint)
        : !string.IsNullOrWhiteSpace(options.TlsCertPath) ? TryLoadCertificateHash(options.TlsCertPath)
        : null;

    public static bool Matches(X509Certificate? certificate, byte[] pin) =>
        certificate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), pin);

    /// <summary>A SHA-256 fingerprint as <c>openssl x509 -fingerprint -sha256</c> prints it, or plain hex.</summary>
    public static byte[]? ParseThumbprint(string text)
    {
        var hex = new string(text.Where(c => c is not (':' or ' ' or '-')).ToArray());
        if (hex.StartsWith("sha256=", StringComparison.OrdinalIgnoreCase)) hex = hex[7..];
        return hex.Length == 64 && hex.All(Uri.IsHexDigit) ? Convert.FromHexString(hex) : null;
    }

    public static byte[]? TryLoadCertificateHash(string path)
    {
        try
        {
            var bytes = File.ReadAllBytes(path);
            var text = System.Text.Encoding.ASCII.GetString(bytes);
            using var certificate = text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificate(bytes);
            return SHA256.HashData(certificate.RawData);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>
    /// The invoice subscription may sit idle for hours; TCP keep-alive makes a silently dead connection fail (and
    /// be re-opened) within minutes instead of waiting forever.
    /// </summary>
    private static async ValueTask<Stream> ConnectWithKeepAliveAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, 60);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, 15);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 4);
            await socket.ConnectAsync(context.DnsEndPoint, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
