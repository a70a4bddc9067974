using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using NBitcoin;
using Satsub.Bitcoin;
using Satsub.Common.Net;
using Satsub.Payouts.Lightning;

namespace Satsub.Payouts.LightningAddress;

/// <summary>
/// Gets a BOLT #11 invoice for an exact amount from a Lightning Address (LUD-16 over LUD-06 payRequest) and checks
/// it before anyone pays it: amount, description hash, network, expiry. Every request goes through the
/// <see cref="SsrfGuard"/> (private targets refused unless <c>Payouts:LightningAddress:AllowPrivateTargets</c>),
/// over https only, with a time limit, a size limit, and no redirects. Every failure is an <see cref="LnurlPayException"/>.
/// </summary>
public sealed class LnurlPayClient : IDisposable
{
    /// <summary>LUD-06 lets metadata carry a 100 KB image (136,536 base64 characters), so the first answer may be that large.</summary>
    public const int MaxPayRequestBytes = 256 * 1024;

    /// <summary>The callback's answer is an invoice (at most 7,089 characters) and a few small fields.</summary>
    public const int MaxCallbackBytes = 64 * 1024;

    private const int MaxReasonLength = 200;
    private const string PayRequestTag = "payRequest";

    private static readonly Network[] KnownNetworks =
        [Network.Main, Network.TestNet, Network.RegTest, NBitcoin.Bitcoin.Instance.Signet];

    private static readonly JsonDocumentOptions JsonOptions = new() { MaxDepth = 32 };

    private readonly HttpClient http;
    private readonly TimeSpan timeout;
    private readonly Network network;
    private readonly TimeProvider time;

    public LnurlPayClient(IOptions<LightningAddressOptions> options, IOptions<BitcoinOptions> bitcoin, TimeProvider time)
        : this(options.Value, bitcoin.Value.ToNBitcoin(), time, configureHandler: null, resolver: null)
    {
    }

    /// <summary>
    /// For tests: <paramref name="configureHandler"/> receives the guarded handler (to trust a test certificate
    /// through its <see cref="SocketsHttpHandler.SslOptions"/>) and returns the handler to use, which must end in it;
    /// <paramref name="resolver"/> replaces DNS.
    /// </summary>
    internal LnurlPayClient(
        LightningAddressOptions options,
        Network network,
        TimeProvider time,
        Func<SocketsHttpHandler, HttpMessageHandler>? configureHandler,
        Func<string, CancellationToken, Task<IPAddress[]>>? resolver)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(time);
        this.network = network;
        this.time = time;
        timeout = TimeSpan.FromSeconds(options.TimeoutSeconds);

        var handler = SsrfGuard.CreateHandler(options.AllowPrivateTargets, resolver, timeout);
        handler.MaxResponseHeadersLength = 32; // KB
        http = new HttpClient(configureHandler?.Invoke(handler) ?? handler, disposeHandler: true)
        {
            Timeout = Timeout.InfiniteTimeSpan, // our own limit covers the body too
            MaxResponseContentBufferSize = MaxPayRequestBytes,
        };
        http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        http.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Satsub", "1.0"));
    }

    /// <summary>
    /// Asks the address's service for an invoice of exactly <paramref name="amountMsat"/> millisatoshis and returns
    /// it once checked. Nothing is paid here.
    /// </summary>
    public async Task<LnurlPayInvoice> GetInvoiceAsync(LightningAddress address, long amountMsat, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(address);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amountMsat);
        if (address.IsOnion)
            throw new LnurlPayException(LnurlPayErrors.OnionUnsupported, $"{address} is a Tor address; Satsub does not pay through Tor.");

        PayRequest payRequest;
        using (var document = await GetJsonAsync(address.WellKnownUri, MaxPayRequestBytes, cancellationToken).ConfigureAwait(false))
            payRequest = ReadPayRequest(document.RootElement, address);

        if (amountMsat < payRequest.MinSendable || amountMsat > payRequest.MaxSendable)
            throw new LnurlPayException(LnurlPayErrors.AmountOutOfRange, FormattableString.Invariant(
                $"{address} accepts {payRequest.MinSendable} to {payRequest.MaxSendable} msat; {amountMsat} msat is outside that range."));

        string pr;
        var callback = WithAmount(payRequest.Callback, amountMsat);
        using (var document = await GetJsonAsync(callback, MaxCallbackBytes, cancellationToken).ConfigureAwait(false))
            pr = ReadPaymentRequest(document.RootElement, callback);

        var invoice = CheckInvoice(pr, payRequest, amountMsat, address);
        return new LnurlPayInvoice(address, invoice.Invoice, invoice.PaymentHash, amountMsat, invoice.ExpiresAt, payRequest.Description, invoice);
    }

    public void Dispose() => http.Dispose();

    private Bolt11Invoice CheckInvoice(string pr, PayRequest payRequest, long amountMsat, LightningAddress address)
    {
        if (!Bolt11Invoice.TryParse(pr, network, out var invoice, out var error))
        {
            foreach (var other in KnownNetworks)
            {
                if (Bolt11Invoice.PrefixFor(other) != Bolt11Invoice.PrefixFor(network) && Bolt11Invoice.TryParse(pr, other, out _, out _))
                    throw new LnurlPayException(LnurlPayErrors.InvoiceNetworkMismatch,
                        $"{address} returned an invoice for {other.ChainName}, but Bitcoin:Network is {network.ChainName}.");
            }
            throw new LnurlPayException(LnurlPayErrors.InvoiceInvalid, $"{address} returned an invalid BOLT #11 invoice: {error}");
        }
        if (invoice.AmountMsat != amountMsat)
            throw new LnurlPayException(LnurlPayErrors.InvoiceAmountMismatch, invoice.AmountMsat is { } actual
                ? FormattableString.Invariant($"{address} returned an invoice for {actual} msat; {amountMsat} msat was requested.")
                : FormattableString.Invariant($"{address} returned an invoice without an amount; {amountMsat} msat was requested."));
        // LUD-06: the invoice commits to the metadata we were shown through h = SHA-256(metadata as UTF-8).
        if (invoice.DescriptionHash is not null && !invoice.DescriptionHashMatches(payRequest.Metadata))
            throw new LnurlPayException(LnurlPayErrors.DescriptionHashMismatch,
                $"{address} returned an invoice whose description hash is not the hash of its metadata.");
        if (invoice.IsExpired(time.GetUtcNow()))
            throw new LnurlPayException(LnurlPayErrors.InvoiceExpired, $"{address} returned an invoice that has already expired.");
        return invoice;
    }

    // GET, with the time limit over headers and body, the size limit, no redirects, and LUD-06 error answers
    // recognised whatever the HTTP status.
    private async Task<JsonDocument> GetJsonAsync(Uri uri, int maxBytes, CancellationToken cancellationToken)
    {
        var host = uri.IdnHost;
        byte[] body;
        HttpStatusCode status;
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(timeout);
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, uri);
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, limit.Token).ConfigureAwait(false);
                status = response.StatusCode;
                if ((int)status is >= 300 and < 400)
                    throw new LnurlPayException(LnurlPayErrors.Unreachable,
                        $"{host} answered with a redirect (HTTP {(int)status}); redirects are not followed.");
                body = await ReadLimitedAsync(response.Content, maxBytes, host, limit.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (SsrfGuard.FindBlocked(e) is { } blocked)
            {
                throw new LnurlPayException(LnurlPayErrors.SsrfBlocked, blocked.Message);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new LnurlPayException(LnurlPayErrors.Timeout,
                    $"{host} did not answer within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s.");
            }
            catch (HttpRequestException e)
            {
                throw new LnurlPayException(LnurlPayErrors.Unreachable, $"Could not reach {host} ({e.HttpRequestError}).");
            }
            catch (IOException)
            {
                throw new LnurlPayException(LnurlPayErrors.Unreachable, $"The connection to {host} failed while reading its answer.");
            }
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, JsonOptions);
        }
        catch (JsonException)
        {
            throw (int)status is >= 200 and < 300
                ? new LnurlPayException(LnurlPayErrors.InvalidResponse, $"{host} did not answer with JSON.")
                : new LnurlPayException(LnurlPayErrors.Unreachable, $"{host} answered HTTP {(int)status}.");
        }

        try
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("status", out var statusField)
                && statusField.ValueKind == JsonValueKind.String
                && string.Equals(statusField.GetString(), "ERROR", StringComparison.OrdinalIgnoreCase))
            {
                var reason = root.TryGetProperty("reason", out var reasonField) && reasonField.ValueKind == JsonValueKind.String
                    ? Sanitize(reasonField.GetString())
                    : "";
                throw new LnurlPayException(LnurlPayErrors.ServiceError,
                    reason.Length > 0 ? $"{host} refused: {reason}" : $"{host} refused without a reason.")
                {
                    RemoteReason = reason.Length > 0 ? reason : null,
                };
            }
            if ((int)status is < 200 or >= 300)
                throw new LnurlPayException(LnurlPayErrors.Unreachable, $"{host} answered HTTP {(int)status}.");
            return document;
        }
        catch
        {
            document.Dispose();
            throw;
        }
    }

    private static async Task<byte[]> ReadLimitedAsync(HttpContent content, int maxBytes, string host, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > maxBytes)
            throw TooLarge(host, maxBytes);
        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                    throw TooLarge(host, maxBytes);
                buffer.Write(chunk, 0, read);
            }
            return buffer.ToArray();
        }
    }

    private static LnurlPayException TooLarge(string host, int maxBytes) =>
        new(LnurlPayErrors.InvalidResponse, FormattableString.Invariant($"{host} answered with more than {maxBytes / 1024} KB."));

    private static PayRequest ReadPayRequest(JsonElement root, LightningAddress address)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw Invalid(address, "the answer is not a JSON object");
        if (GetString(root, "tag") != PayRequestTag)
            throw Invalid(address, "the tag is not \"payRequest\"");

        var callbackText = GetString(root, "callback");
        if (string.IsNullOrWhiteSpace(callbackText) || !Uri.TryCreate(callbackText, UriKind.Absolute, out var callback))
            throw Invalid(address, "the callback is not an absolute URL");
        if (callback.Scheme == Uri.UriSchemeHttp)
            throw new LnurlPayException(LnurlPayErrors.InsecureCallback, $"{address} gave a plain http callback; only https is used.");
        if (callback.Scheme != Uri.UriSchemeHttps)
            throw Invalid(address, "the callback is not an https URL"); // on Unix "/path" parses as a file: URI
        if (callback.UserInfo.Length > 0)
            throw Invalid(address, "the callback carries credentials");

        var min = GetMsat(root, "minSendable", address);
        var max = GetMsat(root, "maxSendable", address);
        if (min < 1 || min > max)
            throw Invalid(address, "minSendable must be at least 1 and at most maxSendable");

        var metadata = GetString(root, "metadata") ?? throw Invalid(address, "metadata is not a string");
        var description = ReadMetadata(metadata, address);
        return new PayRequest(callback, min, max, metadata, description);
    }

    // LUD-06: an array of arrays, each starting with its type as a string; exactly one text/plain; at most one
    // image. LUD-16: a text/identifier or text/email entry naming the address we asked.
    private static string ReadMetadata(string metadata, LightningAddress address)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(metadata, JsonOptions);
        }
        catch (JsonException)
        {
            throw Invalid(address, "metadata is not JSON");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array)
                throw Invalid(address, "metadata is not a JSON array");
            string? plain = null;
            int plainCount = 0, imageCount = 0;
            var identifiers = new List<string>();
            foreach (var entry in document.RootElement.EnumerateArray())
            {
                if (entry.ValueKind != JsonValueKind.Array || entry.GetArrayLength() == 0 || entry[0].ValueKind != JsonValueKind.String)
                    throw Invalid(address, "a metadata entry is not an array starting with its type");
                var type = entry[0].GetString();
                var value = entry.GetArrayLength() > 1 && entry[1].ValueKind == JsonValueKind.String ? entry[1].GetString() : null;
                switch (type)
                {
                    case "text/plain":
                        plainCount++;
                        plain = value;
                        break;
                    case "image/png;base64" or "image/jpeg;base64":
                        imageCount++;
                        break;
                    case "text/identifier" or "text/email" when value is not null:
                        identifiers.Add(value);
                        break;
                    default:
                        break;
                }
            }
            if (plainCount != 1 || plain is null)
                throw Invalid(address, "metadata must hold exactly one text/plain entry");
            if (imageCount > 1)
                throw Invalid(address, "metadata holds more than one image");
            if (identifiers.Count == 0)
                throw new LnurlPayException(LnurlPayErrors.IdentifierMismatch,
                    $"{address}'s metadata has no text/identifier or text/email entry (LUD-16).");
            // A service that strips a +tag (LUD-16) may name the address without it.
            var expected = new[] { address.ToString(), $"{address.NameWithoutTag}@{address.Domain}" };
            if (!identifiers.Exists(i => expected.Contains(i.Trim(), StringComparer.OrdinalIgnoreCase)))
                throw new LnurlPayException(LnurlPayErrors.IdentifierMismatch,
                    $"{address}'s metadata names another identifier; it does not belong to this address.");
            return plain;
        }
    }

    private static string ReadPaymentRequest(JsonElement root, Uri callback)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new LnurlPayException(LnurlPayErrors.InvalidResponse, $"{callback.IdnHost} answered the callback with something other than a JSON object.");
        var pr = GetString(root, "pr");
        if (string.IsNullOrWhiteSpace(pr))
            throw new LnurlPayException(LnurlPayErrors.InvalidResponse, $"{callback.IdnHost} answered the callback without an invoice (pr).");
        return pr.Trim();
    }

    /// <summary>LUD-06: <c>&lt;callback&gt;&lt;?|&amp;&gt;amount=&lt;msat&gt;</c>, keeping the callback's own query parameters.</summary>
    internal static Uri WithAmount(Uri callback, long amountMsat)
    {
        var query = callback.Query.TrimStart('?');
        var builder = new UriBuilder(callback)
        {
            Fragment = "",
            Query = (query.Length > 0 ? query + "&" : "") + "amount=" + amountMsat.ToString(CultureInfo.InvariantCulture),
        };
        return builder.Uri;
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static long GetMsat(JsonElement root, string name, LightningAddress address)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number)
            throw Invalid(address, $"{name} is not a number");
        if (value.TryGetInt64(out var msat))
            return msat;
        // 1000.0 is still a whole number of millisatoshis; 1000.5 is not.
        if (value.TryGetDecimal(out var number) && decimal.IsInteger(number) && number is >= long.MinValue and <= long.MaxValue)
            return (long)number;
        throw Invalid(address, $"{name} is not a whole number of millisatoshis");
    }

    private static LnurlPayException Invalid(LightningAddress address, string what) =>
        new(LnurlPayErrors.InvalidResponse, $"{address} did not answer as LUD-06 requires: {what}.");

    // Remote text goes into messages and logs: no control characters (no forged log lines), bounded length.
    private static string Sanitize(string? text)
    {
        if (string.IsNullOrEmpty(text))
            return "";
        var builder = new StringBuilder(Math.Min(text.Length, MaxReasonLength));
        foreach (var c in text)
        {
            if (builder.Length == MaxReasonLength)
                break;
            builder.Append(char.IsControl(c) || char.IsSurrogate(c) ? ' ' : c);
        }
        return builder.ToString().Trim();
    }

    private sealed record PayRequest(Uri Callback, long MinSendable, long MaxSendable, string Metadata, string Description);
}

/// <summary>
/// An invoice from a Lightning Address, checked: exactly <see cref="AmountMsat"/>, for <c>Bitcoin:Network</c>,
/// committed to the address's metadata where it has a description hash, and not expired when returned.
/// </summary>
/// <param name="Description">The metadata's text/plain: written by the payee, untrusted; encode it before display.</param>
public sealed record LnurlPayInvoice(
    LightningAddress Address,
    string Bolt11,
    string PaymentHash,
    long AmountMsat,
    DateTimeOffset ExpiresAt,
    string Description,
    Bolt11Invoice Invoice);
