using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Satsub.Common;

namespace Satsub.Payments.Rates;

/// <summary>
/// <c>Payments:Rates</c>: a public ticker that gives the price of one bitcoin in a fiat currency, used to price
/// fiat plans for providers that do not convert themselves (LND, the sandbox). <c>{currency}</c> in the URL and
/// the path is replaced by the lower-case currency code.
/// </summary>
public sealed class FiatRateOptions
{
    public const string Section = "Payments:Rates";

    /// <summary>e.g. <c>https://api.coingecko.com/api/v3/simple/price?ids=bitcoin&amp;vs_currencies={currency}</c></summary>
    public string? Url { get; set; }

    /// <summary>Dotted path to the BTC price in the JSON answer, e.g. <c>bitcoin.{currency}</c>.</summary>
    public string JsonPath { get; set; } = "bitcoin.{currency}";

    public int TimeoutSeconds { get; set; } = 5;

    /// <summary>A rate older than this is fetched again; one that cannot be refreshed is not used.</summary>
    public int MaxAgeSeconds { get; set; } = 300;
}

internal sealed class FiatRateOptionsValidator : IValidateOptions<FiatRateOptions>
{
    public ValidateOptionsResult Validate(string? name, FiatRateOptions o)
    {
        var failures = new List<string>();
        if (o.Url is not null)
        {
            if (!Uri.TryCreate(o.Url.Replace("{currency}", "usd", StringComparison.Ordinal), UriKind.Absolute, out var uri))
                failures.Add($"Payments:Rates:Url is not an absolute URL.");
            else if (!ProviderUrls.IsAllowed(uri))
                failures.Add("Payments:Rates:Url must use https (plain http only on loopback).");
        }
        if (string.IsNullOrWhiteSpace(o.JsonPath)) failures.Add("Payments:Rates:JsonPath is required.");
        if (o.TimeoutSeconds is < 1 or > 60) failures.Add($"Payments:Rates:TimeoutSeconds must be between 1 and 60 (was {o.TimeoutSeconds}).");
        if (o.MaxAgeSeconds is < 1 or > 86_400) failures.Add($"Payments:Rates:MaxAgeSeconds must be between 1 and 86400 (was {o.MaxAgeSeconds}).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>A converted price: what the buyer owes in sats, the BTC price used and where it came from.</summary>
public sealed record FiatQuote(Sats Amount, decimal BtcPrice, string Source, DateTimeOffset At);

/// <summary>Converts fiat prices to sats once, at invoice time. What the customer owes rounds up.</summary>
public sealed class FiatRates(IHttpClientFactory httpClients, IOptions<FiatRateOptions> options, TimeProvider clock, ILogger<FiatRates> logger)
{
    public const string HttpClientName = "fiat-rates";

    private readonly Dictionary<string, (decimal Price, DateTimeOffset At)> cache = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim gate = new(1, 1);

    public static Sats Convert(decimal fiatAmount, decimal btcPrice)
    {
        if (fiatAmount <= 0 || btcPrice <= 0) throw new ArgumentOutOfRangeException(nameof(fiatAmount), "Amounts and prices are positive.");
        return new Sats((long)decimal.Ceiling(fiatAmount * 100_000_000m / btcPrice));
    }

    public async Task<FiatQuote> QuoteAsync(decimal fiatAmount, string currency, CancellationToken ct)
    {
        var o = options.Value;
        if (o.Url is null)
            throw new DomainException("fiat_rate_unavailable", "This plan is priced in fiat and no rate source is configured (Payments:Rates:Url).", 503);
        var code = currency.ToLowerInvariant();
        var url = o.Url.Replace("{currency}", Uri.EscapeDataString(code), StringComparison.Ordinal);
        var source = new Uri(url).GetLeftPart(UriPartial.Path);

        await gate.WaitAsync(ct);
        try
        {
            var now = clock.GetUtcNow();
            if (!cache.TryGetValue(code, out var cached) || now - cached.At > TimeSpan.FromSeconds(o.MaxAgeSeconds))
            {
                cached = (await FetchAsync(url, o.JsonPath.Replace("{currency}", code, StringComparison.Ordinal), ct), now);
                cache[code] = cached;
            }
            return new FiatQuote(Convert(fiatAmount, cached.Price), cached.Price, source, cached.At);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<decimal> FetchAsync(string url, string path, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.TimeoutSeconds));
            using var http = httpClients.CreateClient(HttpClientName);
            using var response = await http.GetAsync(new Uri(url), timeout.Token);
            response.EnsureSuccessStatusCode();
            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var doc = await JsonDocument.ParseAsync(stream, cancellationToken: timeout.Token);
            var node = doc.RootElement;
            foreach (var part in path.Split('.'))
                node = node.ValueKind == JsonValueKind.Object && node.TryGetProperty(part, out var child) ? child : throw new FormatException($"No '{part}' in the rate answer.");
            var price = node.ValueKind switch
            {
                JsonValueKind.Number => node.GetDecimal(),
                JsonValueKind.String => decimal.Parse(node.GetString()!, NumberStyles.Number, CultureInfo.InvariantCulture),
                _ => throw new FormatException("The rate is not a number."),
            };
            return price > 0 ? price : throw new FormatException("The rate is not positive.");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or FormatException or JsonException or OverflowException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("The fiat rate source could not be read: {Error}", ex.GetType().Name);
            throw new DomainException("fiat_rate_unavailable", "The exchange rate could not be fetched; try again shortly.", 503);
        }
    }
}
