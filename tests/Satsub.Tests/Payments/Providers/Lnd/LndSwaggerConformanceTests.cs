using System.Text.Json;
using System.Text.RegularExpressions;
using Satsub.Common;
using Satsub.Payments;
using Satsub.Payments.Providers.Lnd;

namespace Satsub.Tests.Payments.Providers.Lnd;

/// <summary>
/// Every request the client sends (recorded by the fake) is checked against LND's own REST contract,
/// <c>shared/reference/lnd/lightning.swagger.json</c>: the path exists with that method, each query parameter is
/// declared, and each body property exists in the schema with the documented JSON type (int64/uint64 as strings).
/// </summary>
public sealed class LndSwaggerConformanceTests
{
    internal static string SwaggerPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Satsub.slnx"))) dir = dir.Parent;
        Assert.True(dir is not null, $"Satsub.slnx not found above {AppContext.BaseDirectory}");
        var path = Path.GetFullPath(Path.Combine(dir!.FullName, "..", "shared", "reference", "lnd", "lightning.swagger.json"));
        Assert.True(File.Exists(path),
            $"LND's REST contract is missing: expected {path} (CI clones the repository with shared/ beside it).");
        return path;
    }

    [Fact]
    public async Task EveryRequest_MatchesLightningSwagger()
    {
        using var swagger = JsonDocument.Parse(await File.ReadAllTextAsync(SwaggerPath()));
        await using var fake = await FakeLnd.StartAsync();
        using var host = LndTestHost.Create(fake, s => s["Payments:Lnd:PrivateRouteHints"] = "true");
        fake.Clock = () => host.Clock.GetUtcNow();

        var invoice = await host.Provider.CreateInvoiceAsync(
            new InvoiceRequest(Guid.NewGuid(), new Sats(5000), PaymentMethod.Lightning, "monthly", "conformance", host.Clock.GetUtcNow().AddMinutes(15)), default);
        await host.Provider.GetInvoiceAsync(invoice.ProviderInvoiceId, default);
        fake.Settle(invoice.ProviderInvoiceId);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        await using (var watch = host.Watcher.WatchAsync(0, cts.Token).GetAsyncEnumerator(cts.Token))
            Assert.True(await watch.MoveNextAsync());

        var requests = fake.Requests.ToList();
        Assert.Contains(requests, r => r.Method == "POST" && r.Path == "/v1/invoices");
        Assert.Contains(requests, r => r.Method == "GET" && r.Path.StartsWith("/v1/invoice/", StringComparison.Ordinal));
        Assert.Contains(requests, r => r.Method == "GET" && r.Path == "/v1/invoices");
        Assert.Contains(requests, r => r.Method == "GET" && r.Path == "/v1/invoices/subscribe");

        var root = swagger.RootElement;
        var paths = root.GetProperty("paths");
        foreach (var request in requests)
        {
            Assert.Equal(FakeLnd.Macaroon, request.Macaroon);
            // Concrete paths win over templates, as in grpc-gateway's router ("/v1/invoices/subscribe" is not "/v1/invoice/{x}").
            var template = paths.EnumerateObject().Select(p => p.Name)
                .Where(t => Regex.IsMatch(request.Path, "^" + Regex.Replace(Regex.Escape(t), @"\\\{[^}]*}", "[^/]+") + "$"))
                .OrderBy(t => t.Count(c => c == '{'))
                .FirstOrDefault();
            Assert.True(template is not null, $"{request.Method} {request.Path} is not in lightning.swagger.json");
            Assert.True(paths.GetProperty(template!).TryGetProperty(request.Method.ToLowerInvariant(), out var operation),
                $"{request.Method} is not documented for {template}");
            var parameters = operation.TryGetProperty("parameters", out var p) ? p.EnumerateArray().ToList() : [];

            foreach (var (name, value) in request.Query)
            {
                var declared = parameters.SingleOrDefault(x => x.GetProperty("in").GetString() == "query" && x.GetProperty("name").GetString() == name);
                Assert.True(declared.ValueKind == JsonValueKind.Object, $"query parameter {name} is not documented for {request.Method} {template}");
                if (declared.TryGetProperty("format", out var f) && f.GetString() is "uint64" or "int64")
                    Assert.Matches("^[0-9]+$", value);
            }

            if (request.Body is null) continue;
            var bodyParameter = parameters.Single(x => x.GetProperty("in").GetString() == "body");
            var schema = Resolve(root, bodyParameter.GetProperty("schema"));
            using var body = JsonDocument.Parse(request.Body);
            foreach (var property in body.RootElement.EnumerateObject())
            {
                Assert.True(schema.GetProperty("properties").TryGetProperty(property.Name, out var declared),
                    $"body property {property.Name} is not in the schema of {request.Method} {template}");
                var type = declared.TryGetProperty("type", out var t) ? t.GetString() : null;
                var format = declared.TryGetProperty("format", out var fm) ? fm.GetString() : null;
                switch (type, format)
                {
                    case ("string", "int64" or "uint64"):
                        Assert.True(property.Value.ValueKind == JsonValueKind.String && Regex.IsMatch(property.Value.GetString()!, "^-?[0-9]+$"),
                            $"{property.Name} ({format}) must be a JSON string of digits, was {property.Value.GetRawText()}");
                        break;
                    case ("string", "byte"):
                        Assert.Equal(JsonValueKind.String, property.Value.ValueKind);
                        Convert.FromBase64String(property.Value.GetString()!);
                        break;
                    case ("string", _):
                        Assert.Equal(JsonValueKind.String, property.Value.ValueKind);
                        break;
                    case ("boolean", _):
                        Assert.True(property.Value.ValueKind is JsonValueKind.True or JsonValueKind.False, $"{property.Name} must be a boolean");
                        break;
                    default:
                        Assert.Fail($"{property.Name}: the client sends a {type}/{format} field this test does not know how to check");
                        break;
                }
            }
        }
    }

    /// <summary>Every field the client reads or writes is declared in the definition it comes from, with the same type.</summary>
    [Theory]
    [InlineData(typeof(LndAddInvoiceRequest), "lnrpcInvoice")]
    [InlineData(typeof(LndAddInvoiceResponse), "lnrpcAddInvoiceResponse")]
    [InlineData(typeof(LndInvoice), "lnrpcInvoice")]
    [InlineData(typeof(LndListInvoiceResponse), "lnrpcListInvoiceResponse")]
    [InlineData(typeof(LndStatus), "rpcStatus")]
    public async Task EveryFieldTheClientUses_IsInTheSwaggerDefinition(Type type, string definition)
    {
        using var swagger = JsonDocument.Parse(await File.ReadAllTextAsync(SwaggerPath()));
        var properties = swagger.RootElement.GetProperty("definitions").GetProperty(definition).GetProperty("properties");
        foreach (var property in type.GetProperties().Where(p => p.CanWrite || type == typeof(LndAddInvoiceRequest)))
        {
            var name = JsonNamingPolicy.SnakeCaseLower.ConvertName(property.Name);
            Assert.True(properties.TryGetProperty(name, out var declared), $"{type.Name}.{property.Name} ({name}) is not in {definition}");
            var kind = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var expected = declared.TryGetProperty("$ref", out var r) ? r.GetString() == "#/definitions/InvoiceInvoiceState" ? "string/enum" : "object"
                : (declared.GetProperty("type").GetString(), declared.TryGetProperty("format", out var f) ? f.GetString() : null) switch
                {
                    ("string", "int64") => "int64",
                    ("string", "uint64") => "uint64",
                    ("string", "byte") => "bytes",
                    ("string", _) => "string",
                    ("integer", "int32") => "int32",
                    ("boolean", _) => "bool",
                    ("array", _) => "array",
                    var other => other.ToString(),
                };
            var actual = kind == typeof(long) ? "int64" : kind == typeof(ulong) ? "uint64" : kind == typeof(byte[]) ? "bytes"
                : kind == typeof(string) ? expected == "string/enum" ? "string/enum" : "string"
                : kind == typeof(int) ? "int32" : kind == typeof(bool) ? "bool"
                : kind.IsGenericType && kind.GetGenericTypeDefinition() == typeof(List<>) ? "array" : kind.Name;
            Assert.True(expected == actual, $"{type.Name}.{property.Name}: the swagger says {expected}, the client uses {actual}");
        }
    }

    private static JsonElement Resolve(JsonElement root, JsonElement schema)
    {
        if (!schema.TryGetProperty("$ref", out var reference)) return schema;
        var name = reference.GetString()!["#/definitions/".Length..];
        return root.GetProperty("definitions").GetProperty(name);
    }
}
