using System.Text;
using System.Text.Json.Nodes;
using Satsub.Payments;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Payments.Providers.BtcPay;

/// <summary>
/// Satsub's BTCPay client against BTCPay's own OpenAPI documents (<c>shared/reference/btcpay/</c>, from BTCPay Server
/// 2.4): every request it sends must be an operation of the API with declared parameters, the right authorization and
/// a body its schema accepts; and the fake's answers and webhooks must match the response and event schemas, so the
/// fake cannot drift into a BTCPay that does not exist.
/// </summary>
public sealed class BtcPayContractTests : IAsyncLifetime
{
    private static readonly Lazy<OpenApiContract> LazyContract = new(() => OpenApiContract.FromFolder(SharedReference.Folder("btcpay")));
    private static OpenApiContract Contract => LazyContract.Value;

    private BtcPayHarness h = null!;

    public async Task InitializeAsync() => h = await BtcPayHarness.StartAsync();

    public async Task DisposeAsync() => await h.DisposeAsync();

    /// <summary>Every kind of call the provider makes, on every path through it.</summary>
    private async Task ExerciseTheClientAsync()
    {
        h.Fake.OnChainNetworkFee = 0.000005m;
        var ln = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(10_000, PaymentMethod.Lightning), default);
        var chain = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(25_001, PaymentMethod.Onchain), default);
        var fiat = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(15_000, PaymentMethod.Lightning, new FiatPrice(9.99m, "EUR")), default);
        h.Fake.Pay(chain.ProviderInvoiceId, 0.0003m, "BTC-CHAIN", "Processing");
        h.Fake.SetStatus(chain.ProviderInvoiceId, "Processing", "PaidOver");
        h.Fake.Pay(ln.ProviderInvoiceId, 0.0001m);
        h.Fake.SetStatus(ln.ProviderInvoiceId, "Settled");
        foreach (var id in new[] { ln.ProviderInvoiceId, chain.ProviderInvoiceId, fiat.ProviderInvoiceId })
            await h.Provider.GetInvoiceAsync(id, default);
    }

    [Fact]
    public async Task EveryRequestTheClientSends_IsAnOperationOfBtcPaysApi()
    {
        await ExerciseTheClientAsync();

        var exchanges = h.Fake.Exchanges;
        Assert.Equal(
            ["GET /api/v1/invoices/{id}", "GET /api/v1/invoices/{id}/payment-methods", "POST /api/v1/stores/{storeId}/invoices"],
            exchanges.Select(Operation).Distinct().Order(StringComparer.Ordinal));
        var problems = exchanges.SelectMany(e => Contract.CheckRequest(e.Method, e.PathAndQuery, e.Headers, e.Body)).ToList();
        Assert.True(problems.Count == 0, "Requests that BTCPay's API does not describe:\n" + string.Join("\n", problems));
        Assert.All(exchanges, e => Assert.Equal(200, e.Status));
    }

    [Fact]
    public async Task EveryAnswerOfTheFake_MatchesBtcPaysResponseSchemas()
    {
        await ExerciseTheClientAsync();

        var problems = h.Fake.Exchanges
            .SelectMany(e => Contract.CheckResponse(e.Method, e.PathAndQuery, e.Status, e.ResponseContentType, e.ResponseBody))
            .ToList();
        Assert.True(problems.Count == 0, "The fake answers differently from BTCPay:\n" + string.Join("\n", problems));
    }

    [Fact]
    public async Task TheFakesErrorAnswers_AreBtcPaysErrorShapes()
    {
        h.Fake.ApiKey = "rotated";
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default));
        h.Fake.ApiKey = FakeBtcPayServer.DefaultApiKey;
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() => h.Provider.GetInvoiceAsync("NoSuchInvoice", default));
        await Assert.ThrowsAsync<PaymentProviderUnavailableException>(() =>
            h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(fiat: new FiatPrice(5m, "XYZ")), default));

        var errors = h.Fake.Exchanges.Where(e => e.Status >= 400).ToList();
        Assert.Equal([401, 404, 400], errors.Select(e => e.Status));
        var problems = new List<string>();
        foreach (var e in errors)
        {
            var schema = Contract.Schema(e.Status == 400 ? "ValidationProblemDetails" : "ProblemDetails");
            Contract.CheckNode(schema, JsonNode.Parse(e.ResponseBody), $"{e.Method} {e.PathAndQuery} → {e.Status}", problems);
        }
        problems.AddRange(Contract.CheckResponse(errors[2].Method, errors[2].PathAndQuery, 400, errors[2].ResponseContentType, errors[2].ResponseBody));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [InlineData("InvoiceCreated")]
    [InlineData("InvoiceReceivedPayment")]
    [InlineData("InvoicePaymentSettled")]
    [InlineData("InvoiceProcessing")]
    [InlineData("InvoiceExpired")]
    [InlineData("InvoiceSettled")]
    [InlineData("InvoiceInvalid")]
    public async Task EveryWebhookOfTheFake_MatchesBtcPaysEventSchema(string type)
    {
        var created = await h.Provider.CreateInvoiceAsync(BtcPayHarness.Request(), default);
        h.Fake.Pay(created.ProviderInvoiceId, 0.0001m);
        var delivery = h.Fake.CreateWebhook(type, created.ProviderInvoiceId);

        var problems = Contract.CheckWebhook(type, delivery.Headers, delivery.Body)
            .Concat(Contract.CheckWebhook(type, h.Fake.Redeliver(delivery).Headers, h.Fake.Redeliver(delivery).Body)).ToList();

        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    // ------------------------------------------------------------ the checker catches what it must

    private static readonly Dictionary<string, string> Json = new() { ["Authorization"] = "token k", ["Content-Type"] = "application/json; charset=utf-8" };

    private static readonly string GoodBody = """
        {"amount":"0.0001","currency":"BTC","metadata":{"orderId":"0199","itemCode":"basic","custom":{"any":1}},
         "checkout":{"speedPolicy":"MediumSpeed","paymentMethods":["BTC-LN"],"expirationMinutes":30,"lazyPaymentMethods":false}}
        """;

    private static IReadOnlyList<string> CheckCreate(string body, IReadOnlyDictionary<string, string>? headers = null) =>
        Contract.CheckRequest("POST", "/api/v1/stores/S1/invoices", headers ?? Json, Encoding.UTF8.GetBytes(body));

    [Fact]
    public void Checker_AcceptsAWellFormedCreateRequest() =>
        Assert.Empty(CheckCreate(GoodBody));

    [Theory]
    [InlineData("\"amount\":\"0.0001\"", "\"amount\":0.0001", "body.amount: is a JSON Number")]                         // a number where BTCPay wants a decimal string
    [InlineData("\"amount\":\"0.0001\"", "\"amount\":\"1e-4\"", "not a decimal")]                   // not BTCPay's decimal format
    [InlineData("\"MediumSpeed\"", "\"Fast\"", "speedPolicy")]                                       // not one of the SpeedPolicy values
    [InlineData("\"lazyPaymentMethods\":false", "\"lazyPaymentMethods\":false,\"colour\":\"red\"", "colour")] // checkout allows no others
    [InlineData("\"currency\":\"BTC\"", "\"currency\":\"BTC\",\"price\":\"1\"", "price")]             // CreateInvoiceRequest allows no others
    [InlineData("\"expirationMinutes\":30", "\"expirationMinutes\":\"30\"", "expirationMinutes")]    // a string where a number is wanted
    [InlineData("\"expirationMinutes\":30", "\"expirationMinutes\":30.5", "int32")]                  // TimeSpanMinutes is an int32
    [InlineData("\"paymentMethods\":[\"BTC-LN\"]", "\"paymentMethods\":\"BTC-LN\"", "paymentMethods")] // an array, not a string
    [InlineData("\"orderId\":\"0199\"", "\"orderId\":199", "orderId")]                               // metadata's orderId is a string
    public void Checker_RefusesWhatTheSchemaRefuses(string good, string bad, string mentioned)
    {
        Assert.Contains(good, GoodBody);

        var problems = CheckCreate(GoodBody.Replace(good, bad, StringComparison.Ordinal));

        Assert.Contains(problems, p => p.Contains(mentioned, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("GET", "/api/v1/stores/S1/invoices/I1", "no such path")]                    // the store-scoped read path of older BTCPays
    [InlineData("GET", "/api/v1/invoice/I1", "no such path")]
    [InlineData("PATCH", "/api/v1/invoices/I1", "no PATCH operation")]
    [InlineData("GET", "/api/v1/invoices/I1/payment-methods?onlyAccountedPayments=yes", "onlyAccountedPayments")]
    [InlineData("GET", "/api/v1/invoices/I1?verbose=true", "'verbose' is not declared")]
    public void Checker_RefusesPathsMethodsAndParametersTheApiDoesNotHave(string method, string path, string mentioned)
    {
        var problems = Contract.CheckRequest(method, path, Json, null);

        Assert.Contains(problems, p => p.Contains(mentioned, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer k")]
    [InlineData("token ")]
    public void Checker_RefusesARequestWithoutBtcPaysAuthorization(string? authorization)
    {
        var headers = new Dictionary<string, string> { ["Content-Type"] = "application/json" };
        if (authorization is not null) headers["Authorization"] = authorization;

        Assert.Contains(CheckCreate(GoodBody, headers), p => p.Contains("Authorization", StringComparison.Ordinal));
    }

    [Fact]
    public void Checker_RefusesACreateWithoutItsRequiredBody() =>
        Assert.Contains(Contract.CheckRequest("POST", "/api/v1/stores/S1/invoices", Json, []), p => p.Contains("required", StringComparison.Ordinal));

    [Fact]
    public void Checker_RefusesAWebhookWithoutSignatureOrWithAnUnknownField()
    {
        var body = Encoding.UTF8.GetBytes("""{"deliveryId":"d","webhookId":"w","originalDeliveryId":"d","isRedelivery":false,"type":"InvoiceSettled","timestamp":1,"storeId":"s","invoiceId":"i","metadata":{},"manuallyMarked":false,"overPaid":false}""");
        var signed = new Dictionary<string, string> { ["BTCPay-Sig"] = "sha256=00" };
        Assert.Empty(Contract.CheckWebhook("InvoiceSettled", signed, body));

        Assert.Contains(Contract.CheckWebhook("InvoiceSettled", new Dictionary<string, string>(), body), p => p.Contains("BTCPay-Sig", StringComparison.Ordinal));
        var extra = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(body).Replace("\"overPaid\":false", "\"overPaid\":false,\"paid\":true", StringComparison.Ordinal));
        Assert.Contains(Contract.CheckWebhook("InvoiceSettled", signed, extra), p => p.Contains("paid", StringComparison.Ordinal));
    }

    [Fact]
    public void Reference_WhenMissing_SaysWhereItLooked()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => SharedReference.Folder("no-such-reference"));

        Assert.Contains(Path.Combine("shared", "reference", "no-such-reference"), ex.Message);
    }

    private static string Operation(RecordedExchange e)
    {
        var path = e.PathAndQuery.Split('?')[0];
        var parts = path.Trim('/').Split('/');
        if (parts is ["api", "v1", "stores", _, "invoices"]) return $"{e.Method} /api/v1/stores/{{storeId}}/invoices";
        if (parts is ["api", "v1", "invoices", _]) return $"{e.Method} /api/v1/invoices/{{id}}";
        if (parts is ["api", "v1", "invoices", _, var rest]) return $"{e.Method} /api/v1/invoices/{{id}}/{rest}";
        return $"{e.Method} {path}";
    }
}
