using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using NBitcoin;
using Satsub.Bitcoin;
using Satsub.Payments;

namespace Satsub.Tests.Payments.Providers.BtcPay;

/// <summary>
/// The payments module configured for BTCPay, as <c>satsub serve</c> composes it, talking over HTTP to a
/// <see cref="FakeBtcPayServer"/> on the loopback.
/// </summary>
public sealed class BtcPayHarness : IAsyncDisposable
{
    private BtcPayHarness(FakeBtcPayServer fake, IHost host)
    {
        Fake = fake;
        Host = host;
    }

    public FakeBtcPayServer Fake { get; }
    public IHost Host { get; }

    public IPaymentProvider Provider => Host.Services.GetRequiredService<PaymentProviders>().ByName("btcpay")!;
    public IWebhookAuthenticator Authenticator => Host.Services.GetRequiredService<PaymentProviders>().WebhookAuthenticator("btcpay")!;

    /// <param name="network">The network of the fake's addresses and BOLT11 invoices.</param>
    /// <param name="settings">Overrides of the settings, e.g. <c>["Bitcoin:Network"] = "mainnet"</c>.</param>
    public static async Task<BtcPayHarness> StartAsync(Network? network = null, IDictionary<string, string?>? settings = null)
    {
        var fake = await FakeBtcPayServer.StartAsync(network ?? Network.RegTest);
        var config = new Dictionary<string, string?>
        {
            ["Payments:Provider"] = "btcpay",
            ["Payments:BtcPay:Url"] = fake.Url.ToString(),
            ["Payments:BtcPay:ApiKey"] = fake.ApiKey,
            ["Payments:BtcPay:StoreId"] = fake.StoreId,
            ["Payments:BtcPay:WebhookSecret"] = fake.WebhookSecret,
            ["Payments:BtcPay:TimeoutSeconds"] = "10",
            ["Bitcoin:Network"] = fake.Network == Network.Main ? "mainnet" : "regtest",
        };
        foreach (var (k, v) in settings ?? new Dictionary<string, string?>()) config[k] = v;
        return new BtcPayHarness(fake, BuildHost(config));
    }

    /// <summary>A host with the payments module and the Bitcoin settings, validated as at start-up.</summary>
    public static IHost BuildHost(IDictionary<string, string?> config, string environment = "Production")
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            EnvironmentName = environment,
            DisableDefaults = true,
        });
        builder.Configuration.AddInMemoryCollection(config);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<BitcoinOptions>().BindConfiguration(BitcoinOptions.Section);
        builder.AddPayments();
        var host = builder.Build();
        host.Services.GetRequiredService<IStartupValidator>().Validate();
        return host;
    }

    public static InvoiceRequest Request(long sats = 10_000, PaymentMethod method = PaymentMethod.Lightning, FiatPrice? fiat = null) =>
        new(Guid.CreateVersion7(), new Satsub.Common.Sats(sats), method, "basic", "Basic access", DateTimeOffset.UtcNow.AddMinutes(30), fiat);

    public static string Btc(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        Host.Dispose();
        await Fake.DisposeAsync();
    }
}
