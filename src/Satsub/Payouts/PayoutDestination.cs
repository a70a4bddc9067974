using NBitcoin;
using Satsub.Common;
using Satsub.Payouts.Lightning;

namespace Satsub.Payouts;

public enum PayoutDestinationKind
{
    LightningAddress,
    Bolt11,
    Onchain,
}

/// <summary>
/// Where a payout goes: a Lightning Address (LUD-16), a BOLT #11 invoice with an amount, or a bitcoin address, each
/// checked for <c>Bitcoin:Network</c>. Anything else is <c>invalid_destination</c>.
/// </summary>
public sealed record PayoutDestination
{
    private PayoutDestination(PayoutDestinationKind kind, string value)
    {
        Kind = kind;
        Value = value;
    }

    public PayoutDestinationKind Kind { get; }

    /// <summary>The destination in its canonical text form (as stored on the payout).</summary>
    public string Value { get; }

    public LightningAddress.LightningAddress? Address { get; private init; }
    public Bolt11Invoice? Invoice { get; private init; }
    public BitcoinAddress? OnchainAddress { get; private init; }

    public bool IsLightning => Kind != PayoutDestinationKind.Onchain;

    /// <summary>The name stored in <see cref="Payout.DestinationType"/>.</summary>
    public string TypeName => TypeNameOf(Kind);

    public static string TypeNameOf(PayoutDestinationKind kind) => kind switch
    {
        PayoutDestinationKind.LightningAddress => "lightning_address",
        PayoutDestinationKind.Bolt11 => "bolt11",
        _ => "onchain",
    };

    public static PayoutDestination Parse(string? text, Network network)
    {
        ArgumentNullException.ThrowIfNull(network);
        var value = text?.Trim() ?? "";
        if (value.Length is 0 or > 2048)
            throw Invalid("A payout destination is a Lightning Address, a BOLT11 invoice or a bitcoin address.");
        var bare = value.StartsWith("lightning:", StringComparison.OrdinalIgnoreCase) ? value["lightning:".Length..] : value;
        if (bare.StartsWith("ln", StringComparison.OrdinalIgnoreCase) && !bare.Contains('@', StringComparison.Ordinal))
        {
            if (!Bolt11Invoice.TryParse(bare, network, out var invoice, out var error))
                throw Invalid($"Not a valid BOLT11 invoice for {network.ChainName}: {error}");
            if (invoice.AmountSats is null)
                throw Invalid("A BOLT11 payout invoice must carry an amount in whole satoshis.");
            return new PayoutDestination(PayoutDestinationKind.Bolt11, invoice.Invoice) { Invoice = invoice };
        }
        if (bare.Contains('@', StringComparison.Ordinal))
        {
            if (!LightningAddress.LightningAddress.TryParse(bare, out var address))
                throw Invalid("Not a valid Lightning Address (name@domain).");
            return new PayoutDestination(PayoutDestinationKind.LightningAddress, address.ToString()) { Address = address };
        }
        var onchain = value.StartsWith("bitcoin:", StringComparison.OrdinalIgnoreCase) ? value["bitcoin:".Length..] : value;
        try
        {
            var address = BitcoinAddress.Create(onchain, network);
            return new PayoutDestination(PayoutDestinationKind.Onchain, address.ToString()) { OnchainAddress = address };
        }
        catch (FormatException)
        {
            throw Invalid($"Not a Lightning Address, a BOLT11 invoice or a bitcoin address for {network.ChainName}.");
        }
    }

    /// <summary>A BOLT11 destination fixes the amount and expires: it must be for exactly this payout and still payable.</summary>
    public void CheckFor(long amountSats, DateTimeOffset now)
    {
        if (Invoice is null) return;
        if (Invoice.AmountSats != amountSats)
            throw new DomainException("invalid_destination", $"The invoice is for {Invoice.AmountSats} sats; the payout is {amountSats} sats.", 422);
        if (Invoice.IsExpired(now))
            throw new DomainException("invalid_destination", "The invoice has expired.", 422);
    }

    private static DomainException Invalid(string message) => new("invalid_destination", message, 422);
}
