using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Satsub.Common.Net;

/// <summary>
/// Keeps server-side requests to URLs that users or remote services chose (outgoing webhooks, Lightning
/// Address resolution) away from the machine itself and its private network: loopback, private, link-local
/// (cloud metadata at 169.254.169.254), CGNAT, multicast and the other special-purpose ranges.
/// </summary>
/// <remarks>
/// The check happens where it cannot be bypassed: in the handler's <see cref="SocketsHttpHandler.ConnectCallback"/>,
/// after name resolution, on every address the name resolves to, and the socket then connects to the vetted
/// address itself, so a name that answers differently a moment later (DNS rebinding) gains nothing. IP literals in
/// any spelling (decimal 2130706433, hex 0x7f000001, octal 0177.0.0.1, short 127.1) reach the callback as the
/// address they denote, so they are refused like the dotted form.
/// HTTP/3 runs over QUIC and does not use the connect callback: clients of this handler keep the default
/// HTTP/1.1 (or 2) request version and must not ask for 3.0.
/// </remarks>
public static class SsrfGuard
{
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>True for any address a server-side request must not reach unless private targets are allowed.</summary>
    public static bool IsForbidden(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily switch
        {
            AddressFamily.InterNetwork => IsForbiddenV4(address.GetAddressBytes()),
            AddressFamily.InterNetworkV6 => IsForbiddenV6(address.GetAddressBytes()),
            _ => true, // not an IP address we know how to judge
        };
    }

    /// <summary>
    /// A handler whose every connection goes through the guard: names are resolved here (with
    /// <paramref name="resolver"/>, <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/> by default),
    /// refused with <see cref="SsrfBlockedException"/> if any address is forbidden (unless
    /// <paramref name="allowPrivateTargets"/>), and the socket connects to the addresses just checked.
    /// Redirects are not followed, no proxy is used (a proxy would connect on our behalf, unchecked), no cookies kept.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(
        bool allowPrivateTargets,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolver = null,
        TimeSpan? connectTimeout = null)
    {
        resolver ??= Dns.GetHostAddressesAsync;
        return new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = connectTimeout ?? DefaultConnectTimeout,
            // Pooled connections were vetted when opened; recycle them so a long-lived client re-resolves names.
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectCallback = (context, cancellationToken) =>
                ConnectAsync(context.DnsEndPoint, allowPrivateTargets, resolver, cancellationToken),
        };
    }

    /// <summary>Finds the <see cref="SsrfBlockedException"/> inside what an <see cref="HttpClient"/> threw, if the guard refused.</summary>
    public static SsrfBlockedException? FindBlocked(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SsrfBlockedException blocked)
                return blocked;
        }
        return null;
    }

    private static async ValueTask<Stream> ConnectAsync(
        DnsEndPoint endPoint,
        bool allowPrivateTargets,
        Func<string, CancellationToken, Task<IPAddress[]>> resolver,
        CancellationToken cancellationToken)
    {
        var host = endPoint.Host;
        IPAddress[] addresses;
        // An IPv6 literal may arrive with its brackets; any IPv4 spelling IPAddress understands is an address, not a name.
        if (IPAddress.TryParse(host.AsSpan().Trim('[').TrimEnd(']'), out var literal))
            addresses = [literal];
        else
            addresses = await resolver(host, cancellationToken).ConfigureAwait(false) ?? [];

        if (addresses.Length == 0)
            throw new SocketException((int)SocketError.HostNotFound);

        if (!allowPrivateTargets && Array.Exists(addresses, IsForbidden))
            throw new SsrfBlockedException(host);

        // Try each vetted address in turn, as the runtime would; the socket never sees the name.
        Exception? last = null;
        foreach (var vetted in addresses)
        {
            var address = vetted.IsIPv4MappedToIPv6 ? vetted.MapToIPv4() : vetted;
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, endPoint.Port), cancellationToken).ConfigureAwait(false);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                last = e;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    private static bool IsForbiddenV4(ReadOnlySpan<byte> a) => a[0] switch
    {
        0 => true, // 0.0.0.0/8 "this network"; connecting to 0.0.0.0 reaches the local host
        10 => true, // private
        100 => a[1] is >= 64 and <= 127, // 100.64.0.0/10 carrier-grade NAT
        127 => true, // loopback
        169 => a[1] == 254, // link-local, cloud metadata services
        172 => a[1] is >= 16 and <= 31, // private
        192 => (a[1], a[2]) switch
        {
            (0, 0) => true, // IETF protocol assignments
            (0, 2) => true, // TEST-NET-1
            (31, 196) => true, // AS112-v4
            (52, 193) => true, // AMT
            (88, 99) => true, // 6to4 relay anycast (deprecated)
            (168, _) => true, // private
            (175, 48) => true, // AS112 direct delegation
            _ => false,
        },
        198 => a[1] is 18 or 19 || (a[1] == 51 && a[2] == 100), // benchmarking 198.18.0.0/15, TEST-NET-2
        203 => a[1] == 0 && a[2] == 113, // TEST-NET-3
        >= 224 => true, // multicast 224.0.0.0/4, reserved 240.0.0.0/4, broadcast 255.255.255.255
        _ => false,
    };

    private static bool IsForbiddenV6(ReadOnlySpan<byte> a)
    {
        var first = BinaryPrimitives.ReadUInt16BigEndian(a);
        var second = BinaryPrimitives.ReadUInt16BigEndian(a[2..]);

        // ::/96 (unspecified ::, loopback ::1, deprecated IPv4-compatible ::a.b.c.d) and ::ffff:0:0/96 (IPv4-mapped).
        if (a[..10].IndexOfAnyExcept((byte)0) < 0)
        {
            var marker = BinaryPrimitives.ReadUInt16BigEndian(a[10..]);
            if (marker == 0xffff)
                return IsForbiddenV4(a[12..]); // the socket really talks IPv4 to the mapped address
            return true; // ::, ::1 and IPv4-compatible addresses: nothing public lives there
        }
        // ::ffff:0:a.b.c.d/96, IPv4-translated (SIIT): judged by the IPv4 address it stands for.
        if (a[..8].IndexOfAnyExcept((byte)0) < 0 && BinaryPrimitives.ReadUInt32BigEndian(a[8..]) == 0xffff0000)
            return IsForbiddenV4(a[12..]);

        // 64:ff9b::/96, the well-known NAT64 prefix: the gateway connects to the embedded IPv4 address.
        if (first == 0x0064 && second == 0xff9b && a[4..12].IndexOfAnyExcept((byte)0) < 0)
            return IsForbiddenV4(a[12..]);
        // 64:ff9b:1::/48 local-use NAT64 (RFC 8215) and anything else in 64:ff9b::/32.
        if (first == 0x0064 && second == 0xff9b)
            return true;

        // 2002::/16, 6to4: the relay delivers to the IPv4 address in bits 16 to 47.
        if (first == 0x2002)
            return IsForbiddenV4(a[2..6]);

        // Only global unicast (2000::/3) may be public; that excludes ULA fc00::/7, link-local fe80::/10,
        // deprecated site-local fec0::/10, multicast ff00::/8, discard-only 100::/64, SRv6 5f00::/16 and every reserved block.
        if ((first & 0xe000) != 0x2000)
            return true;

        // Special-purpose blocks inside 2000::/3.
        if (first == 0x2001 && second < 0x0200)
            return true; // 2001::/23 IETF protocol assignments: Teredo 2001::/32 (embeds an obfuscated IPv4), benchmarking, ORCHID, AS112
        if (first == 0x2001 && second == 0x0db8)
            return true; // 2001:db8::/32 documentation
        if ((first & 0xfff0) == 0x3ff0)
            return true; // 3fff::/20 documentation (RFC 9637)
        return false;
    }
}

/// <summary>
/// The SSRF guard refused a connection: the host resolved to a private, loopback, link-local or otherwise
/// internal address. The message names the host (never a URL, so never credentials) and not the address.
/// </summary>
public sealed class SsrfBlockedException(string host)
    : Exception($"Connection to '{host}' refused: it resolves to a private, loopback, link-local or reserved address.")
{
    public string Host { get; } = host;
}
