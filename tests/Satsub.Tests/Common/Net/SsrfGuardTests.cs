using System.Net;
using System.Net.Sockets;
using System.Text;
using Satsub.Common.Net;

namespace Satsub.Tests.Common.Net;

public sealed class SsrfGuardTests
{
    private static readonly TimeSpan ShortConnect = TimeSpan.FromSeconds(3);

    // Names the injected resolver answers; anything else goes to real DNS (localhost included).
    private static readonly Dictionary<string, IPAddress[]> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["loopback.example"] = [IPAddress.Parse("127.0.0.1")],
        ["v6-loopback.example"] = [IPAddress.IPv6Loopback],
        ["mapped-loopback.example"] = [IPAddress.Parse("::ffff:127.0.0.1")],
        ["metadata.example"] = [IPAddress.Parse("169.254.169.254")],
        ["internal.example"] = [IPAddress.Parse("10.1.2.3")],
        ["cgnat.example"] = [IPAddress.Parse("100.100.100.100")],
        // A public answer next to a private one: one forbidden address is enough to refuse.
        ["rebind.example"] = [IPAddress.Parse("93.184.216.34"), IPAddress.Parse("127.0.0.1")],
        ["payee.example"] = [IPAddress.Parse("127.0.0.1")],
    };

    private static Task<IPAddress[]> Resolve(string host, CancellationToken cancellationToken) =>
        Names.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : Dns.GetHostAddressesAsync(host, cancellationToken);

    /// <summary>Internal targets, each in a spelling an attacker might use; {port} is a live local listener.</summary>
    public static TheoryData<string> InternalTargets() =>
    [
        // IPv4, dotted and the other spellings Uri and IPAddress accept
        "http://127.0.0.1:{port}/",
        "http://127.0.0.2:{port}/",
        "http://2130706433:{port}/",
        "http://0x7f000001:{port}/",
        "http://0177.0.0.1:{port}/",
        "http://0x7f.0.0.1:{port}/",
        "http://127.1:{port}/",
        "http://0.0.0.0:{port}/",
        "http://0:{port}/",
        "http://10.0.0.1:{port}/",
        "http://172.16.0.1:{port}/",
        "http://172.31.255.254:{port}/",
        "http://192.168.1.1:{port}/",
        "http://169.254.169.254:{port}/latest/meta-data/",
        "http://2852039166:{port}/latest/meta-data/",
        "http://100.64.0.1:{port}/",
        "http://192.0.0.1:{port}/",
        "http://198.18.0.1:{port}/",
        "http://192.0.2.1:{port}/",
        "http://224.0.0.1:{port}/",
        "http://255.255.255.255:{port}/",
        // IPv6
        "http://[::1]:{port}/",
        "http://[::]:{port}/",
        "http://[0:0:0:0:0:0:0:1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://[::ffff:7f00:1]:{port}/",
        "http://[::ffff:169.254.169.254]:{port}/",
        "http://[::127.0.0.1]:{port}/",
        "http://[64:ff9b::7f00:1]:{port}/",
        "http://[64:ff9b::a9fe:a9fe]:{port}/",
        "http://[2002:7f00:1::1]:{port}/",
        "http://[fe80::1]:{port}/",
        "http://[fc00::1]:{port}/",
        "http://[fd12:3456:789a::1]:{port}/",
        "http://[ff02::1]:{port}/",
        "http://[2001:db8::1]:{port}/",
        // names
        "http://localhost:{port}/",
        "http://loopback.example:{port}/",
        "http://v6-loopback.example:{port}/",
        "http://mapped-loopback.example:{port}/",
        "http://metadata.example:{port}/",
        "http://internal.example:{port}/",
        "http://cgnat.example:{port}/",
        "http://rebind.example:{port}/",
        "https://loopback.example:{port}/",
        "http://user:hunter2@loopback.example:{port}/",
    ];

    [Theory]
    [MemberData(nameof(InternalTargets))]
    public async Task Get_InternalTarget_IsRefusedBeforeAnyConnection(string target)
    {
        await using var listener = await CountingListener.StartAsync();
        using var client = new HttpClient(SsrfGuard.CreateHandler(allowPrivateTargets: false, Resolve, ShortConnect));
        var url = target.Replace("{port}", listener.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var thrown = await Assert.ThrowsAnyAsync<Exception>(() => client.GetAsync(new Uri(url)));

        var blocked = SsrfGuard.FindBlocked(thrown);
        if (blocked is null)
            Assert.Fail($"{url} was not refused by the guard: {thrown}");
        Assert.Contains(blocked.Host, blocked.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", thrown.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, listener.Accepted);
    }

    [Theory]
    [InlineData("http://2130706433/")]
    [InlineData("http://0x7f000001/")]
    [InlineData("http://0177.0.0.1/")]
    [InlineData("http://127.1/")]
    [InlineData("http://0x7f.1/")]
    public void Uri_OtherIPv4Spellings_DenoteLoopback(string url)
    {
        // Whatever form Uri keeps the host in, the guard reads it as IPAddress does: as 127.0.0.1.
        var host = new Uri(url).IdnHost;
        Assert.True(IPAddress.TryParse(host, out var address), $"{url} -> host '{host}'");
        Assert.Equal(IPAddress.Loopback, address);
        Assert.True(SsrfGuard.IsForbidden(address));
    }

    [Fact]
    public async Task Get_PrivateTargetAllowed_ReallyConnectsToTheResolvedAddress()
    {
        await using var listener = await CountingListener.StartAsync();
        using var client = new HttpClient(SsrfGuard.CreateHandler(allowPrivateTargets: true, Resolve, ShortConnect));

        var response = await client.GetStringAsync(new Uri($"http://payee.example:{listener.Port}/"));

        Assert.Equal("reached", response);
        Assert.Equal(1, listener.Accepted);
    }

    [Fact]
    public async Task Get_NameThatChangesItsAnswer_IsResolvedOnceAndConnectedToThatAnswer()
    {
        // A rebinding name: loopback first, then an address nobody listens on. The guard resolves once per
        // connection and connects to the addresses it vetted, so there is no second lookup to race with.
        await using var listener = await CountingListener.StartAsync();
        var calls = 0;
        Task<IPAddress[]> Rebinding(string host, CancellationToken cancellationToken) =>
            Task.FromResult(Interlocked.Increment(ref calls) == 1 ? new[] { IPAddress.Loopback } : [IPAddress.Parse("192.0.2.1")]);
        using var client = new HttpClient(SsrfGuard.CreateHandler(allowPrivateTargets: true, Rebinding, ShortConnect));

        var response = await client.GetStringAsync(new Uri($"http://rebinding.example:{listener.Port}/"));

        Assert.Equal("reached", response);
        Assert.Equal(1, calls);
        Assert.Equal(1, listener.Accepted);
    }

    [Fact]
    public async Task Get_Redirect_IsNotFollowed()
    {
        await using var listener = await CountingListener.StartAsync(
            "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        using var client = new HttpClient(SsrfGuard.CreateHandler(allowPrivateTargets: true, Resolve, ShortConnect));

        using var response = await client.GetAsync(new Uri($"http://payee.example:{listener.Port}/"));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(1, listener.Accepted);
    }

    [Fact]
    public void CreateHandler_NoRedirectsNoProxyAndAConnectTimeout()
    {
        using var handler = SsrfGuard.CreateHandler(allowPrivateTargets: false);

        Assert.False(handler.AllowAutoRedirect);
        Assert.False(handler.UseProxy);
        Assert.Equal(SsrfGuard.DefaultConnectTimeout, handler.ConnectTimeout);
        Assert.NotNull(handler.ConnectCallback);
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("0.255.255.255")]
    [InlineData("10.255.255.255")]
    [InlineData("100.64.0.0")]
    [InlineData("100.127.255.255")]
    [InlineData("127.255.255.254")]
    [InlineData("169.254.0.1")]
    [InlineData("172.16.0.0")]
    [InlineData("172.31.255.255")]
    [InlineData("192.0.0.8")]
    [InlineData("192.0.2.255")]
    [InlineData("192.88.99.1")]
    [InlineData("192.168.0.1")]
    [InlineData("198.18.0.0")]
    [InlineData("198.19.255.255")]
    [InlineData("198.51.100.7")]
    [InlineData("203.0.113.9")]
    [InlineData("224.0.0.251")]
    [InlineData("239.255.255.250")]
    [InlineData("240.0.0.1")]
    [InlineData("255.255.255.255")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("::ffff:10.0.0.1")]
    [InlineData("::ffff:0:127.0.0.1")]
    [InlineData("::8.8.8.8")]
    [InlineData("64:ff9b::192.168.0.1")]
    [InlineData("64:ff9b:1::8.8.8.8")]
    [InlineData("100::1")]
    [InlineData("2001::1")]
    [InlineData("2001:2::1")]
    [InlineData("2001:db8:85a3::8a2e:370:7334")]
    [InlineData("2002:a00:1::")]
    [InlineData("2002:c0a8:101::1")]
    [InlineData("3fff::1")]
    [InlineData("fc00::")]
    [InlineData("fdff:ffff::1")]
    [InlineData("fe80::1%1")]
    [InlineData("febf::1")]
    [InlineData("fec0::1")]
    [InlineData("ff02::1")]
    [InlineData("ff0e::1")]
    [InlineData("5f00::1")]
    public void IsForbidden_SpecialPurposeAddresses(string address) =>
        Assert.True(SsrfGuard.IsForbidden(IPAddress.Parse(address)), address);

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("1.1.1.1")]
    [InlineData("93.184.216.34")]
    [InlineData("100.63.255.255")]
    [InlineData("100.128.0.0")]
    [InlineData("169.253.255.255")]
    [InlineData("172.15.255.255")]
    [InlineData("172.32.0.0")]
    [InlineData("192.169.0.1")]
    [InlineData("198.20.0.1")]
    [InlineData("223.255.255.254")]
    [InlineData("2606:4700:4700::1111")]
    [InlineData("2a00:1450:4001:81b::200e")]
    [InlineData("::ffff:8.8.8.8")]
    [InlineData("64:ff9b::8.8.8.8")]
    [InlineData("2002:808:808::1")]
    public void IsForbidden_PublicAddresses_AreAllowed(string address) =>
        Assert.False(SsrfGuard.IsForbidden(IPAddress.Parse(address)), address);

    /// <summary>
    /// A TCP listener on every local address that answers any request with a fixed HTTP response and counts
    /// connections: if the guard let a request through, it would be answered and counted.
    /// </summary>
    private sealed class CountingListener : IAsyncDisposable
    {
        private readonly TcpListener listener;
        private readonly byte[] response;
        private readonly CancellationTokenSource stop = new();
        private readonly Task loop;
        private int accepted;

        private CountingListener(TcpListener listener, string response)
        {
            this.listener = listener;
            this.response = Encoding.ASCII.GetBytes(response);
            loop = Task.Run(AcceptLoopAsync);
        }

        public int Port => ((IPEndPoint)listener.LocalEndpoint).Port;

        public int Accepted => Volatile.Read(ref accepted);

        public static Task<CountingListener> StartAsync(
            string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\nreached")
        {
            TcpListener listener;
            try
            {
                listener = new TcpListener(IPAddress.IPv6Any, 0);
                listener.Server.DualMode = true;
                listener.Start();
            }
            catch (SocketException)
            {
                listener = new TcpListener(IPAddress.Any, 0); // no IPv6 on this machine
                listener.Start();
            }
            return Task.FromResult(new CountingListener(listener, response));
        }

        private async Task AcceptLoopAsync()
        {
            while (!stop.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptSocketAsync(stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
                {
                    return;
                }
                Interlocked.Increment(ref accepted);
                _ = Task.Run(() => ServeAsync(socket));
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            using (socket)
            {
                try
                {
                    var buffer = new byte[8192];
                    var received = new StringBuilder();
                    while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                    {
                        var read = await socket.ReceiveAsync(buffer, stop.Token);
                        if (read == 0)
                            return;
                        received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                    }
                    await socket.SendAsync(response, stop.Token);
                    socket.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            listener.Stop();
            await loop;
            stop.Dispose();
        }
    }
}
