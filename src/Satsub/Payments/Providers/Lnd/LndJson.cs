using System.Text.Json;
using System.Text.Json.Serialization;

namespace Satsub.Payments.Providers.Lnd;

/// <summary>
/// LND's REST messages (grpc-gateway JSON of <c>lightning.proto</c>, see <c>lightning.swagger.json</c>):
/// snake_case proto names, int64/uint64 as JSON strings, bytes as standard base64.
/// </summary>
internal static class LndJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };
}

/// <summary>The body of <c>POST /v1/invoices</c> (an <c>lnrpcInvoice</c> with only the fields we set).</summary>
internal sealed record LndAddInvoiceRequest(string? Memo, long? Value, long Expiry, bool? Private = null);

/// <summary><c>lnrpcAddInvoiceResponse</c>.</summary>
internal sealed class LndAddInvoiceResponse
{
    public byte[]? RHash { get; set; }
    public string? PaymentRequest { get; set; }
    public ulong AddIndex { get; set; }
    public byte[]? PaymentAddr { get; set; }
}

/// <summary>The states of <c>InvoiceInvoiceState</c>.</summary>
internal static class LndInvoiceState
{
    public const string Open = "OPEN";
    public const string Settled = "SETTLED";
    public const string Canceled = "CANCELED";
    public const string Accepted = "ACCEPTED";
}

/// <summary><c>lnrpcInvoice</c>, the fields Satsub reads.</summary>
internal sealed class LndInvoice
{
    public string? Memo { get; set; }
    public byte[]? RHash { get; set; }
    public long Value { get; set; }
    public long ValueMsat { get; set; }
    public long CreationDate { get; set; }
    public long SettleDate { get; set; }
    public string? PaymentRequest { get; set; }
    public long Expiry { get; set; }
    public ulong AddIndex { get; set; }
    public ulong SettleIndex { get; set; }
    public long AmtPaidSat { get; set; }
    public long AmtPaidMsat { get; set; }

    /// <summary>Absent from the JSON means the enum's default, <c>OPEN</c>.</summary>
    public string? State { get; set; }

    public string StateOrDefault => string.IsNullOrEmpty(State) ? LndInvoiceState.Open : State;

    public string? RHashHex => RHash is { Length: 32 } ? Convert.ToHexStringLower(RHash) : null;
}

/// <summary><c>lnrpcListInvoiceResponse</c>.</summary>
internal sealed class LndListInvoiceResponse
{
    public List<LndInvoice>? Invoices { get; set; }
    public ulong LastIndexOffset { get; set; }
    public ulong FirstIndexOffset { get; set; }
}

/// <summary><c>rpcStatus</c>: LND's error body, also sent inside a stream as <c>{"error": …}</c>.</summary>
internal sealed class LndStatus
{
    public int Code { get; set; }
    public string? Message { get; set; }
}

/// <summary>One line of a grpc-gateway server stream.</summary>
internal sealed class LndStreamMessage
{
    public LndInvoice? Result { get; set; }
    public LndStatus? Error { get; set; }
}
