using System.Globalization;
using Microsoft.Extensions.Options;
using Satsub.Common;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// Lightning invoices on the owner's own LND node. LND pushes nothing: settlements are watched with
/// <see cref="LndInvoiceWatcher"/>, and this class re-reads an invoice's authoritative state on demand.
/// The provider invoice id is the payment hash in lower-case hex.
/// </summary>
public sealed class LndPaymentProvider : IPaymentProvider
{
    public const string ProviderName = "lnd";

    /// <summary>BOLT11 descriptions are at most 639 bytes; a short memo also keeps the QR code small.</summary>
    internal const int MaxMemoLength = 200;

    private readonly LndRestClient client;
    private readonly IOptions<LndOptions> options;
    private readonly TimeProvider clock;

    internal LndPaymentProvider(LndRestClient client, IOptions<LndOptions> options, TimeProvider clock)
    {
        this.client = client;
        this.options = options;
        this.clock = clock;
    }

    public string Name => ProviderName;

    /// <summary>LND invoices are in sats only: fiat plans are converted by Satsub's rate source before we get here.</summary>
    public bool ConvertsFiat => false;

    public async Task<ProviderInvoice> CreateInvoiceAsync(InvoiceRequest request, CancellationToken ct)
    {
        if (request.Method != PaymentMethod.Lightning)
            throw new DomainException("method_unsupported",
                "The lnd provider takes Lightning payments only; configure Payments:OnChain:Provider for on-chain payments.", 422);
        if (!request.Amount.IsValidPayment)
            throw new ArgumentOutOfRangeException(nameof(request), request.Amount, "The invoice amount must be a positive number of sats.");

        // LND counts expiry in whole seconds from its own clock; round up so the buyer never gets less time than promised.
        var now = clock.GetUtcNow();
        var expirySeconds = (long)Math.Ceiling((request.ExpiresAt - now).TotalSeconds);
        if (expirySeconds < 1)
            throw new ArgumentOutOfRangeException(nameof(request), request.ExpiresAt, "The invoice expiry must be in the future.");

        var memo = request.Description.Length > MaxMemoLength ? request.Description[..MaxMemoLength] : request.Description;
        var body = new LndAddInvoiceRequest(
            Memo: string.IsNullOrWhiteSpace(memo) ? null : memo,
            Value: request.Amount.Value,
            Expiry: expirySeconds,
            Private: options.Value.PrivateRouteHints ? true : null);

        var created = await client.AddInvoiceAsync(body, ct);
        if (created.RHash is not { Length: 32 } || string.IsNullOrWhiteSpace(created.PaymentRequest))
            throw new PaymentProviderUnavailableException(ProviderName, "add invoice returned no payment hash or payment request.");

        var bolt11 = created.PaymentRequest.Trim();
        return new ProviderInvoice(
            ProviderInvoiceId: Convert.ToHexStringLower(created.RHash),
            Bolt11: bolt11,
            Address: null,
            PaymentUri: "lightning:" + bolt11,
            ExpiresAt: now.AddSeconds(expirySeconds),
            Amount: request.Amount);
    }

    /// <summary>
    /// Maps LND's <c>state</c>:
    /// <list type="bullet">
    /// <item>SETTLED → Settled, with PaidPartial / PaidOver when <c>amt_paid_msat</c> differs from the invoice's value;</item>
    /// <item>ACCEPTED (a hold invoice whose HTLCs are locked in but not yet settled) → Processing;</item>
    /// <item>OPEN → New, or Expired once <c>creation_date + expiry</c> has passed;</item>
    /// <item>CANCELED → Expired when read after the expiry time (LND cancels expired invoices itself, so that is
    /// the ordinary expiry), Invalid when read before it (someone cancelled it on the node). LND keeps no
    /// cancellation time, so the read time decides; either way nothing was paid.</item>
    /// </list>
    /// An unknown payment hash throws <see cref="DomainException"/> <c>provider_invoice_not_found</c> (404).
    /// </summary>
    public async Task<ProviderInvoiceState> GetInvoiceAsync(string providerInvoiceId, CancellationToken ct)
    {
        var rHash = NormalizeId(providerInvoiceId);
        var invoice = await client.LookupInvoiceAsync(rHash, ct)
                      ?? throw new DomainException("provider_invoice_not_found", $"LND has no invoice with payment hash {rHash}.", 404);
        return Map(rHash, invoice, clock.GetUtcNow());
    }

    internal static ProviderInvoiceState Map(string rHashHex, LndInvoice invoice, DateTimeOffset now)
    {
        var expired = now >= DateTimeOffset.FromUnixTimeSeconds(invoice.CreationDate).AddSeconds(invoice.Expiry);
        var paid = new Sats(invoice.AmtPaidSat);
        switch (invoice.StateOrDefault)
        {
            case LndInvoiceState.Settled:
                var valueMsat = invoice.ValueMsat != 0 ? invoice.ValueMsat : checked(invoice.Value * 1000);
                var exception = valueMsat == 0 || invoice.AmtPaidMsat == valueMsat ? PaymentException.None
                    : invoice.AmtPaidMsat < valueMsat ? PaymentException.PaidPartial
                    : PaymentException.PaidOver;
                return new ProviderInvoiceState(rHashHex, ProviderInvoiceStatus.Settled, exception, paid);
            case LndInvoiceState.Accepted:
                return new ProviderInvoiceState(rHashHex, ProviderInvoiceStatus.Processing, AmountPaid: paid);
            case LndInvoiceState.Canceled:
                return new ProviderInvoiceState(rHashHex, expired ? ProviderInvoiceStatus.Expired : ProviderInvoiceStatus.Invalid);
            case LndInvoiceState.Open:
                return new ProviderInvoiceState(rHashHex, expired ? ProviderInvoiceStatus.Expired : ProviderInvoiceStatus.New);
            default:
                throw new PaymentProviderUnavailableException(ProviderName,
                    string.Create(CultureInfo.InvariantCulture, $"LND reported an unknown invoice state '{invoice.State}'."));
        }
    }

    /// <summary>The id is the 32-byte payment hash in hex; anything else is refused before it reaches a URL.</summary>
    internal static string NormalizeId(string providerInvoiceId)
    {
        ArgumentNullException.ThrowIfNull(providerInvoiceId);
        var id = providerInvoiceId.Trim();
        if (id.Length != 64 || !id.All(Uri.IsHexDigit))
            throw new ArgumentException("An LND invoice id is a 32-byte payment hash in hex.", nameof(providerInvoiceId));
        return id.ToLowerInvariant();
    }
}
