using System.Text.Json;
using System.Text.Json.Serialization;

namespace Satsub.Payments.Providers.BtcPay;

// The slice of BTCPay's Greenfield API that Satsub uses, named as in its OpenAPI document
// (CreateInvoiceRequest, InvoiceData, InvoicePaymentMethodDataModel). Amounts travel as decimal strings.

internal static class GreenfieldJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // BTCPay writes amounts as strings ("0.0001"); reading them as decimal keeps every digit.
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };
}

/// <summary>The body of <c>POST /api/v1/stores/{storeId}/invoices</c>.</summary>
internal sealed record CreateInvoiceBody(string Amount, string Currency, InvoiceMetadataBody Metadata, CheckoutBody Checkout);

/// <summary><c>orderId</c> is Satsub's invoice id: BTCPay indexes it, so the admin finds our invoice there by it.</summary>
internal sealed record InvoiceMetadataBody(string OrderId, string? ItemCode, string? ItemDesc);

internal sealed record CheckoutBody(
    string SpeedPolicy,
    IReadOnlyList<string> PaymentMethods,
    int ExpirationMinutes,
    // The destination must exist when the buyer is shown the invoice, whatever the store's "lazy" setting.
    bool LazyPaymentMethods);

/// <summary>BTCPay's <c>InvoiceData</c>.</summary>
internal sealed class InvoiceData
{
    public string? Id { get; set; }
    public string? StoreId { get; set; }
    public decimal? Amount { get; set; }
    public string? Currency { get; set; }
    public string? CheckoutLink { get; set; }
    public long? ExpirationTime { get; set; }
    public string? Status { get; set; }
    public string? AdditionalStatus { get; set; }
}

/// <summary>BTCPay's <c>InvoicePaymentMethodDataModel</c>: amounts are in the method's currency (BTC).</summary>
internal sealed class InvoicePaymentMethodData
{
    public string? PaymentMethodId { get; set; }
    public string? Currency { get; set; }
    public string? Destination { get; set; }
    public string? PaymentLink { get; set; }
    /// <summary>Invoice currency per unit of the method's currency (USD per BTC for a dollar invoice).</summary>
    public decimal? Rate { get; set; }
    public decimal? PaymentMethodPaid { get; set; }
    public decimal? TotalPaid { get; set; }
    public decimal? Due { get; set; }
    public decimal? Amount { get; set; }
    public decimal? PaymentMethodFee { get; set; }
    public bool? Activated { get; set; }
}

/// <summary>BTCPay's error answers: <c>ProblemDetails</c> (<c>{code, message}</c>) or a list of <c>{path, message}</c>.</summary>
internal sealed class GreenfieldError
{
    public string? Code { get; set; }
    public string? Path { get; set; }
    public string? Message { get; set; }
}
