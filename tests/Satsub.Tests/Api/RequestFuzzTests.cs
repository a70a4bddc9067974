using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using CsCheck;
using Satsub.Payments;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Api;

public class FuzzFactory : ApiFactory
{
    public string UserId { get; private set; } = "";
    public string PlanCode { get; private set; } = "";
    /// <summary>Buyers for the webhook fuzz: spread over several subscriptions, settlements do not all queue on one row.</summary>
    public List<string> Buyers { get; } = [];

    protected override async Task SeedAsync()
    {
        UserId = (await RegisterAsync("website")).Str("user_id");
        for (var i = 0; i < 8; i++) Buyers.Add((await RegisterAsync("telegram")).Str("user_id"));
        PlanCode = "fz" + Guid.NewGuid().ToString("N")[..8];
        await (await Admin().PostAsync("/api/v1/admin/plans", Http.Json(new { type = PlanCode, name = "F", price_sats = 10, duration_days = 1 }))).AssertStatusAsync(201);
    }
}

/// <summary>The fuzz on the embedded default database (SQLite), which a plain <c>dotnet run</c> uses.</summary>
public sealed class SqliteFuzzFactory : FuzzFactory
{
    protected override bool UseSqlite => true;
}

/// <summary>Inputs for the fuzz tests: random JSON of any shape and valid bodies with fields replaced.</summary>
internal static class FuzzInputs
{
    internal static readonly string[] Fields =
    [
        "user_id", "username", "platform", "external_id", "referral_id", "subscription_type", "payment_data", "method", "amount",
        "btc_address", "transaction_id", "amount_sats", "type", "name", "description", "price_sats", "duration_days", "chats",
        "active", "scopes", "", "__proto__", "USER_ID",
    ];

    internal static readonly string[] NumberLiterals =
    [
        "0", "-0", "-1", "1", "10000", "25000", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
        "-9223372036854775809", "99999999999999999999999999999", "1e400", "-1e400", "1e-400", "3.14", "0.00025", "1E+2", "2100000000000000",
        "2147483648", "-2147483649",
    ];

    internal static readonly string[] StringLiterals =
    [
        "\"\"", "\" \"", "\"basic\"", "\"premium\"", "\"website\"", "\"telegram\"", "\"discord\"", "\"lightning\"", "\"onchain\"",
        "\"admin\"", "\"0.00025\"", "\"-0.1\"", "\"1e400\"", "\"NaN\"", "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"x\\udfff\"",
        "\"\\n\\t\\r\"", "\"💩🚀\"", "\"ДРУГ\"", "\"' OR 1=1 --\"", "\"<script>\"", "\"00000000-0000-0000-0000-000000000000\"",
        "\"bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq\"", "\"tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx\"", "\"sk_\"",
        "\"" + new string('x', 70_000) + "\"", "\"" + string.Concat(Enumerable.Repeat("é", 300)) + "\"",
    ];

    internal static Gen<string> JsonString(FuzzFactory app) => Gen.Frequency(
        (4, Gen.OneOf(StringLiterals.Select(Gen.Const).ToArray())),
        (2, Gen.Int[0, 0x10FFFF].Array[0, 40].Select(points => JsonSerializer.Serialize(string.Concat(points
            .Where(p => p is < 0xD800 or > 0xDFFF).Select(char.ConvertFromUtf32))))),
        (1, Gen.Const(() => JsonSerializer.Serialize(app.UserId))),
        (1, Gen.Const(() => JsonSerializer.Serialize(app.PlanCode))));

    internal static Gen<string> Number => Gen.Frequency(
        (3, Gen.OneOf(NumberLiterals.Select(Gen.Const).ToArray())),
        (1, Gen.Long.Select(l => l.ToString(CultureInfo.InvariantCulture))),
        (1, Gen.Double.Where(double.IsFinite).Select(d => d.ToString("R", CultureInfo.InvariantCulture))));

    internal static Gen<string> Json(FuzzFactory app) => Gen.Recursive<string>((depth, inner) =>
    {
        var scalar = Gen.Frequency(
            (4, JsonString(app)),
            (3, Number),
            (1, Gen.OneOf(Gen.Const("true"), Gen.Const("false"), Gen.Const("null"))));
        if (depth >= 3) return scalar;
        var array = inner.Array[0, 4].Select(items => "[" + string.Join(",", items) + "]");
        var obj = Gen.Select(Gen.OneOf(Fields.Select(Gen.Const).ToArray()), inner).Array[0, 8]
            .Select(pairs => "{" + string.Join(",", pairs.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}");
        return Gen.Frequency((5, scalar), (1, array), (4, obj));
    });

    /// <summary>A body: mostly objects with the API's field names, sometimes any JSON, sometimes not JSON at all.</summary>
    internal static Gen<string> Body(FuzzFactory app) => Gen.Frequency(
        (6, Gen.Select(Gen.OneOf(Fields.Select(Gen.Const).ToArray()), Json(app)).Array[0, 10]
            .Select(pairs => "{" + string.Join(",", pairs.Select(p => JsonSerializer.Serialize(p.Item1) + ":" + p.Item2)) + "}")),
        (2, Json(app)),
        (1, Json(app).Select(j => j.Length > 1 ? j[..(j.Length / 2)] : j + "{")),
        (1, Gen.OneOf(Gen.Const(""), Gen.Const("{"), Gen.Const("}{"), Gen.Const("\u0000"), Gen.Const("{\"a\":1,}"), Gen.Const("{'a':1}"), Gen.Const("NaN"))));

    /// <summary>A valid body for each endpoint, fresh each time (unique names and ids).</summary>
    internal static Dictionary<string, string> Template(string path, FuzzFactory app)
    {
        string Q(string v) => JsonSerializer.Serialize(v);
        var unique = Guid.NewGuid().ToString("N")[..10];
        return path switch
        {
            "/api/v1/users" => new() { ["platform"] = Q("website"), ["username"] = Q("fz" + unique), ["referral_id"] = Q(app.UserId) },
            "/api/v1/subscriptions" => new() { ["user_id"] = Q(app.UserId), ["subscription_type"] = Q("basic"), ["payment_data"] = "{\"method\":\"lightning\",\"amount\":\"0.0001\"}" },
            "/api/v1/admin/plans" => new() { ["type"] = Q("fz" + unique), ["name"] = Q("F"), ["price_sats"] = "10", ["duration_days"] = "1" },
            "/api/v1/admin/api-keys" => new() { ["name"] = Q("fz"), ["scopes"] = Q("website") },
            "webhook" => new() { ["user_id"] = Q(app.Buyers[Random.Shared.Next(app.Buyers.Count)]), ["subscription_type"] = Q(app.PlanCode), ["transaction_id"] = Q("fz" + unique), ["amount_sats"] = "10" },
            _ => new() { ["name"] = Q("F"), ["price_sats"] = "10", ["duration_days"] = "1" },
        };
    }

    /// <summary>A valid body with up to three fields replaced by random JSON or removed: reaches past the first check.</summary>
    internal static Gen<string> Mutated(string path, FuzzFactory app) =>
        Gen.Select(Gen.OneOf(Fields.Select(Gen.Const).ToArray()), Json(app), Gen.Bool).Array[0, 3].Select(changes =>
        {
            var body = Template(path, app);
            foreach (var (field, value, remove) in changes)
            {
                if (remove) body.Remove(field);
                else body[field] = value;
            }
            return "{" + string.Join(",", body.Select(p => JsonSerializer.Serialize(p.Key) + ":" + p.Value)) + "}";
        });

    internal static Gen<string> FuzzBody(string path, FuzzFactory app) => Gen.Frequency((1, Body(app)), (1, Mutated(path, app)));

    internal static async Task AssertSaneAsync(ApiFactory app, HttpResponseMessage response, string what)
    {
        var status = (int)response.StatusCode;
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status < 500, $"{what} → {status}: {text[..Math.Min(text.Length, 500)]}\n{string.Join("\n", app.Errors.TakeLast(2))}");
        if (status >= 400)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            using var json = JsonDocument.Parse(text);
            Assert.False(string.IsNullOrEmpty(json.RootElement.GetProperty("code").GetString()), text);
            Assert.Equal(status, json.RootElement.GetProperty("status").GetInt32());
            Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        }
    }

    internal static string Show(string body) => body.Length > 300 ? body[..300] + "…" : body;
}

/// <summary>
/// Property-based fuzz of every request body and query: random JSON of any shape, wrong types, huge strings,
/// control characters, broken Unicode, negative and overflowing numbers. The server never answers 5xx, and
/// every error is problem+json with a code.
/// </summary>
public sealed class RequestFuzzTests(FuzzFactory app) : RequestFuzz<FuzzFactory>(app);

public sealed class RequestFuzzTests_Sqlite(SqliteFuzzFactory app) : RequestFuzz<SqliteFuzzFactory>(app);

public abstract class RequestFuzz<TFactory>(TFactory app) : IClassFixture<TFactory> where TFactory : FuzzFactory
{
    [Theory]
    [InlineData("POST", "/api/v1/users")]
    [InlineData("POST", "/api/v1/subscriptions")]
    [InlineData("POST", "/api/v1/admin/plans")]
    [InlineData("PUT", "/api/v1/admin/plans/{plan}")]
    [InlineData("POST", "/api/v1/admin/api-keys")]
    public async Task Body_AnyJson_NeverA5xxAndErrorsAreProblems(string method, string path)
    {
        var client = app.Admin();
        var url = path.Replace("{plan}", app.PlanCode, StringComparison.Ordinal);
        await FuzzInputs.FuzzBody(path.StartsWith("/api/v1/admin/plans/", StringComparison.Ordinal) ? "put" : path, app).SampleAsync(async body =>
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            await FuzzInputs.AssertSaneAsync(app, await client.SendAsync(request), $"{method} {url} {FuzzInputs.Show(body)}");
        }, iter: 100, threads: 2, print: FuzzInputs.Show);
    }
}

/// <summary>The same fuzz for the signed generic webhook (past its signature) and for paths and query strings.</summary>
public sealed class WebhookAndQueryFuzzTests(FuzzFactory app) : WebhookAndQueryFuzz<FuzzFactory>(app);

public sealed class WebhookAndQueryFuzzTests_Sqlite(SqliteFuzzFactory app) : WebhookAndQueryFuzz<SqliteFuzzFactory>(app);

public abstract class WebhookAndQueryFuzz<TFactory>(TFactory app) : IClassFixture<TFactory> where TFactory : FuzzFactory
{
    [Fact]
    public async Task GenericWebhook_AnySignedJson_NeverA5xxAndErrorsAreProblems()
    {
        var client = app.Client(null);
        await FuzzInputs.FuzzBody("webhook", app).SampleAsync(async body =>
        {
            var bytes = Encoding.UTF8.GetBytes(body);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/webhook/payment") { Content = new ByteArrayContent(bytes) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add(GenericWebhookApi.SignatureHeader, GenericWebhookApi.Sign(ApiFactory.WebhookSecret, bytes));
            await FuzzInputs.AssertSaneAsync(app, await client.SendAsync(request), $"webhook {FuzzInputs.Show(body)}");
        }, iter: 60, threads: 2, print: FuzzInputs.Show);
    }

    [Fact]
    public async Task QueryAndPath_AnyText_NeverA5xxAndErrorsAreProblems()
    {
        var client = app.Admin();
        var text = Gen.Frequency(
            (3, Gen.OneOf(FuzzInputs.StringLiterals.Where(s => s.Length < 200).Select(s => Gen.Const(s.Trim('"'))).ToArray())),
            (2, FuzzInputs.Number),
            (2, Gen.Int[0x20, 0x10FFFF].Array[0, 20].Select(points => string.Concat(points.Where(p => p is < 0xD800 or > 0xDFFF).Select(char.ConvertFromUtf32)))));
        var templates = new[]
        {
            "/api/v1/users?platform={0}&external_id={1}", "/api/v1/users?platform={0}&username={1}", "/api/v1/users/{0}",
            "/api/v1/users/{0}/referrals?limit={1}", "/api/v1/users/" + app.UserId + "/referrals?cursor={0}&limit={1}",
            "/api/v1/subscriptions/{0}", "/api/v1/admin/stats?from={0}&to={1}", "/api/v1/admin/audit?cursor={0}&limit={1}",
            "/api/v1/admin/plans/{0}", "/api/v1/admin/invoices/{0}/settle",
        };
        await Gen.Select(Gen.Int[0, templates.Length - 1], text, text).SampleAsync(async (t, a, b) =>
        {
            var url = string.Format(CultureInfo.InvariantCulture, templates[t], Uri.EscapeDataString(a), Uri.EscapeDataString(b));
            var method = url.EndsWith("/settle", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get;
            using var request = new HttpRequestMessage(method, url);
            await FuzzInputs.AssertSaneAsync(app, await client.SendAsync(request), url);
        }, iter: 150, threads: 2);
    }
}
