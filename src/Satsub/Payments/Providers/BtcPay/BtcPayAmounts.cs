using System.Globalization;
using NBitcoin;
using Satsub.Common;

namespace Satsub.Payments.Providers.BtcPay;

/// <summary>
/// Conversions at BTCPay's edge, where amounts are decimal strings of BTC. Lightning amounts may carry
/// millisatoshis (11 decimals), so turning BTC into whole sats needs a rounding mode, written here:
/// what the buyer owes rounds up, what the buyer has paid rounds down.
/// </summary>
internal static class BtcPayAmounts
{
    private const decimal SatsPerBtc = 100_000_000m;

    /// <summary>An invoice amount in BTC as BTCPay reads it: invariant, at most 8 decimals, no trailing zeros ("0.0001").</summary>
    public static string ToBtcString(Sats amount) =>
        (amount.Value / SatsPerBtc).ToString("0.########", CultureInfo.InvariantCulture);

    /// <summary>A fiat price as BTCPay reads it ("9.99").</summary>
    public static string ToFiatString(decimal amount) => amount.ToString(CultureInfo.InvariantCulture);

    public static Sats OwedToSats(decimal btc) => new(checked((long)decimal.Ceiling(btc * SatsPerBtc)));

    public static Sats PaidToSats(decimal btc) => new(checked((long)decimal.Floor(btc * SatsPerBtc)));

    /// <summary>
    /// BTCPay's <c>rate</c> is fiat per BTC (64392.23 USD); Satsub records sats per unit of fiat
    /// (1552.98… sats per USD), rounded half away from zero to the 8 decimals the invoice row keeps.
    /// </summary>
    public static decimal? SatsPerFiatUnit(decimal? fiatPerBtc) =>
        fiatPerBtc is > 0m ? Math.Round(SatsPerBtc / fiatPerBtc.Value, 8, MidpointRounding.AwayFromZero) : null;

    private static readonly Network[] KnownNetworks = [Network.Main, Network.TestNet, Network.RegTest, NBitcoin.Bitcoin.Instance.Signet];

    /// <summary>Whether an on-chain address is of <paramref name="network"/>, of another one, or unreadable.</summary>
    public static DestinationNetwork AddressNetwork(string address, Network network)
    {
        if (IsAddressOf(address, network)) return DestinationNetwork.Expected;
        return KnownNetworks.Any(n => IsAddressOf(address, n)) ? DestinationNetwork.Other : DestinationNetwork.Unknown;
    }

    private static bool IsAddressOf(string address, Network network)
    {
        try
        {
            BitcoinAddress.Create(address, network);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether a BOLT11 invoice is of <paramref name="network"/>, of another one, or unreadable, from its
    /// human-readable part: <c>ln</c> + <c>bc</c> (mainnet), <c>tb</c> (testnet), <c>tbs</c> (signet) or
    /// <c>bcrt</c> (regtest) + the amount.
    /// </summary>
    public static DestinationNetwork Bolt11Network(string bolt11, Network network)
    {
        var text = bolt11.Trim().ToLowerInvariant();
        if (text.StartsWith("lightning:", StringComparison.Ordinal)) text = text["lightning:".Length..];
        var separator = text.LastIndexOf('1');
        if (separator < 3 || !text.StartsWith("ln", StringComparison.Ordinal)) return DestinationNetwork.Unknown;
        var hrp = text[2..separator];
        // Strip the optional amount: digits, then an optional multiplier m, u, n or p.
        var end = hrp.Length;
        if (end > 1 && "munp".Contains(hrp[end - 1], StringComparison.Ordinal) && char.IsAsciiDigit(hrp[end - 2])) end--;
        while (end > 0 && char.IsAsciiDigit(hrp[end - 1])) end--;
        var prefix = hrp[..end];
        if (prefix == Bolt11Prefix(network)) return DestinationNetwork.Expected;
        return KnownNetworks.Any(n => Bolt11Prefix(n) == prefix) ? DestinationNetwork.Other : DestinationNetwork.Unknown;
    }

    private static string Bolt11Prefix(Network network) =>
        network.ChainName == ChainName.Mainnet ? "bc"
        : network.ChainName == ChainName.Regtest ? "bcrt"
        : network.Name.Contains("signet", StringComparison.OrdinalIgnoreCase) ? "tbs"
        : "tb";
}

internal enum DestinationNetwork
{
    /// <summary>Of <c>Bitcoin:Network</c>.</summary>
    Expected,
    /// <summary>Recognisably of another network.</summary>
    Other,
    /// <summary>Not something Satsub can read.</summary>
    Unknown,
}
