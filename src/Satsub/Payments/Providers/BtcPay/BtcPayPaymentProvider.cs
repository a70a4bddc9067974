using Microsoft.Extensions.Options;
using Satsub.Bitcoin;
using Satsub.Common;

namespace Satsub.Payments.Providers.BtcPay;

/// <summary>
/// BTCPay Server through its Greenfield API. An invoice is created in the store for exactly one payment method
/// (<c>BTC-LN</c> or <c>BTC-CHAIN</c>), priced in BTC from the plan's sats or in the plan's fiat currency for BTCPay
/// to convert; its payment method then gives the BOLT11 or address, the payment link and the amounts, which are
/// returned as BTCPay wrote them. The state is always re-read from BTCPay: a webhook only says "look again".
/// </summary>
internal sealed class BtcPayPaymentProvider(
    GreenfieldClient client,
    IOptions<BtcPayOptions> options,
    IOptions<BitcoinOptions> bitcoin,
    TimeProvider clock,
    ILogger<BtcPayPaymentProvider> logger) : IPaymentProvider
{
    public const string ProviderName = "btcpay";

    public const string LightningMethod = "BTC-LN";
    public const string OnChainMethod = "BTC-CHAIN";

    public string Name => ProviderName;

    public bool ConvertsFiat => true;

    public async Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        var settings = options.Value;
        var methodId = request.Method == PaymentMethod.Lightning ? LightningMethod : OnChainMethod;
        var (amount, currency) = request.Fiat is { } fiat
            ? (BtcPayAmounts.ToFiatString(fiat.Amount), fiat.Currency.ToUpperInvariant())
            : (BtcPayAmounts.ToBtcString(request.Amount), "BTC");
        var body = new CreateInvoiceBody(
            amount,
            currency,
            new InvoiceMetadataBody(request.InvoiceId.ToString("D"), request.PlanCode, request.Description),
            new CheckoutBody(settings.SpeedPolicyName, [methodId], ExpirationMinutes(request.ExpiresAt), LazyPaymentMethods: false));

        var created = await client.CreateInvoiceAsync(body, ct);
        if (string.IsNullOrEmpty(created.Id)) throw Unavailable("the new invoice came back without an id.");

        var methods = await client.GetPaymentMethodsAsync(created.Id, ct);
        var method = methods.FirstOrDefault(m => m.PaymentMethodId == methodId)
            ?? throw Unavailable($"invoice {created.Id} has no {methodId} payment method: enable {(request.Method == PaymentMethod.Lightning ? "Lightning" : "the on-chain wallet")} on the store.");
        if (string.IsNullOrWhiteSpace(method.Destination))
            throw Unavailable($"invoice {created.Id} has no {methodId} destination yet.");

        // The sale is BTCPay's amount for the method (its conversion, for a fiat price). What the buyer sends is
        // its "due", which also holds the store's network fee if it charges one: the payment link carries it.
        var sats = method.Amount is { } methodAmount ? BtcPayAmounts.OwedToSats(methodAmount)
            : request.Fiat is null ? request.Amount
            : throw Unavailable($"invoice {created.Id} gave no {methodId} amount for the {request.Fiat.Currency} price.");
        if (!sats.IsValidPayment) throw Unavailable($"invoice {created.Id} asks for {sats}, which is not a payable amount.");
        // Priced in BTC, BTCPay has nothing to convert: any other figure means the store changed the price.
        if (request.Fiat is null && sats != request.Amount)
            throw Unavailable($"invoice {created.Id} asks for {sats} where Satsub asked for {request.Amount}.");

        CheckNetwork(created.Id, request.Method, method.Destination);
        var lightning = request.Method == PaymentMethod.Lightning;
        var paymentUri = method.PaymentLink is { Length: > 0 } link ? link
            : lightning ? "lightning:" + method.Destination
            : $"bitcoin:{method.Destination}?amount={BtcPayAmounts.ToBtcString(method.Due is { } due ? BtcPayAmounts.OwedToSats(due) : sats)}";
        var expiresAt = created.ExpirationTime is { } unix ? DateTimeOffset.FromUnixTimeSeconds(unix) : request.ExpiresAt;
        var rate = request.Fiat is null ? null : BtcPayAmounts.SatsPerFiatUnit(method.Rate);

        return new ProviderInvoice(created.Id, lightning ? method.Destination : null, lightning ? null : method.Destination, paymentUri, expiresAt, sats, rate);
    }

    public async Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        var invoice = await client.GetInvoiceAsync(providerInvoiceId, ct);
        // The read path does not name the store, so BTCPay would answer for any store the key can see.
        if (invoice.StoreId is not null && !string.Equals(invoice.StoreId, options.Value.StoreId, StringComparison.Ordinal))
            throw Unavailable($"invoice {providerInvoiceId} belongs to another store than Payments:BtcPay:StoreId.");
        if (invoice.Id is not null && !string.Equals(invoice.Id, providerInvoiceId, StringComparison.Ordinal))
            throw Unavailable($"asked for invoice {providerInvoiceId}, got '{invoice.Id}'.");

        var status = invoice.Status switch
        {
            "New" => ProviderInvoiceStatus.New,
            "Processing" => ProviderInvoiceStatus.Processing,
            "Settled" => ProviderInvoiceStatus.Settled,
            "Expired" => ProviderInvoiceStatus.Expired,
            "Invalid" => ProviderInvoiceStatus.Invalid,
            // Nothing is credited on a status Satsub does not understand; the reconciliation job asks again.
            _ => throw Unavailable($"invoice {providerInvoiceId} has status '{invoice.Status}', which Satsub does not know."),
        };
        var exception = invoice.AdditionalStatus switch
        {
            null or "None" => PaymentException.None,
            "PaidLate" => PaymentException.PaidLate,
            "PaidPartial" => PaymentException.PaidPartial,
            "PaidOver" => PaymentException.PaidOver,
            "Marked" => PaymentException.Marked,
            "Invalid" => PaymentException.Invalid,
            _ => throw Unavailable($"invoice {providerInvoiceId} has additional status '{invoice.AdditionalStatus}', which Satsub does not know."),
        };

        // The amount paid is only reported with a payment exception (late, partial, over, marked, invalid): without one,
        // BTCPay's status says it all, and the second call would double the requests of every settlement.
        if (exception == PaymentException.None) return new ProviderInvoiceState(providerInvoiceId, status, exception);
        var methods = await client.GetPaymentMethodsAsync(providerInvoiceId, ct);
        // totalPaid is every payment to the invoice converted to the method's currency: any BTC method tells it.
        var paid = methods.FirstOrDefault(m => m.TotalPaid is not null && string.Equals(m.Currency, "BTC", StringComparison.OrdinalIgnoreCase))?.TotalPaid;
        return new ProviderInvoiceState(providerInvoiceId, status, exception, paid is { } btc ? BtcPayAmounts.PaidToSats(btc) : null);
    }

    /// <summary>Whole minutes, rounded up, so BTCPay never expires the invoice before Satsub does (and at least 1).</summary>
    private int ExpirationMinutes(DateTimeOffset expiresAt) =>
        (int)Math.Clamp(Math.Ceiling((expiresAt - clock.GetUtcNow()).TotalMinutes), 1, int.MaxValue);

    /// <summary>
    /// A store on another network than <c>Bitcoin:Network</c> must never be shown to a buyer: a destination that is
    /// recognisably another network's is refused. One Satsub cannot read at all is BTCPay's to answer for: it is passed
    /// on as BTCPay wrote it, with a warning.
    /// </summary>
    private void CheckNetwork(string invoiceId, PaymentMethod method, string destination)
    {
        var network = bitcoin.Value.ToNBitcoin();
        var lightning = method == PaymentMethod.Lightning;
        var verdict = lightning ? BtcPayAmounts.Bolt11Network(destination, network) : BtcPayAmounts.AddressNetwork(destination, network);
        if (verdict == DestinationNetwork.Other)
            throw Unavailable($"invoice {invoiceId} pays to a {(lightning ? "BOLT11 invoice" : "address")} of another network than Bitcoin:Network {bitcoin.Value.Network}: the store must be on the same network.");
        if (verdict == DestinationNetwork.Unknown)
            logger.LogWarning("BTCPay invoice {InvoiceId} pays to a {Kind} Satsub cannot read; it is shown as BTCPay wrote it", invoiceId, lightning ? "BOLT11 invoice" : "address");
    }

    private static PaymentProviderUnavailableException Unavailable(string message) => new(ProviderName, message);
}
