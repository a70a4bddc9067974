using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Satsub.Tests.Fixtures;

/// <summary>
/// Checks HTTP messages against an OpenAPI 3.0 description made of several template files (BTCPay splits its
/// Greenfield document so; the server merges them into one). Each check returns the problems it found, one line
/// each, empty when the message conforms.
/// <para>
/// Schemas are read the way BTCPay's generated clients read them: <c>allOf</c> merges its parts into one schema, so
/// <c>additionalProperties: false</c> forbids what none of the parts declares; a property declared in an
/// <c>anyOf</c>/<c>oneOf</c> part must match one of its declarations; <c>nullable</c> anywhere in the merge allows null.
/// </para>
/// </summary>
public sealed partial class OpenApiContract
{
    private readonly JsonObject paths = [];
    private readonly JsonObject schemas = [];
    private readonly JsonObject parameters = [];
    private readonly JsonObject webhooks = [];
    private readonly JsonObject securitySchemes = [];

    public OpenApiContract(IEnumerable<string> files)
    {
        foreach (var file in files)
        {
            var doc = JsonNode.Parse(File.ReadAllText(file))!.AsObject();
            Merge(paths, doc["paths"]);
            Merge(webhooks, doc["x-webhooks"]);
            Merge(schemas, doc["components"]?["schemas"]);
            Merge(parameters, doc["components"]?["parameters"]);
            Merge(securitySchemes, doc["components"]?["securitySchemes"]);
        }
        if (paths.Count == 0) throw new InvalidOperationException("The OpenAPI documents declare no paths.");
    }

    /// <summary>Every <c>*.json</c> in the folder, as one document.</summary>
    public static OpenApiContract FromFolder(string folder) =>
        new(Directory.GetFiles(folder, "*.json").Order(StringComparer.Ordinal));

    private static void Merge(JsonObject into, JsonNode? from)
    {
        if (from is not JsonObject obj) return;
        foreach (var (name, value) in obj)
            if (!into.ContainsKey(name)) into[name] = value?.DeepClone();
    }

    public JsonNode Schema(string name) => schemas[name] ?? throw new KeyNotFoundException($"No schema '{name}'.");

    // ---------------------------------------------------------------- requests and responses

    /// <summary>A request as it went over the wire.</summary>
    public IReadOnlyList<string> CheckRequest(string method, string pathAndQuery, IReadOnlyDictionary<string, string> headers, byte[]? body)
    {
        var errors = new List<string>();
        var (path, query) = SplitQuery(pathAndQuery);
        var what = $"{method} {path}";
        if (FindOperation(method, path, errors) is not var (template, operation, pathParams)) return errors;
        what = $"{method} {template}";

        var declared = DeclaredParameters(template, operation);
        foreach (var (name, value) in pathParams)
        {
            if (declared.FirstOrDefault(p => (string?)p["in"] == "path" && (string?)p["name"] == name) is not { } p)
                errors.Add($"{what}: path parameter '{name}' is not declared.");
            else
                CheckParameterValue(p, value, $"{what} path parameter {name}", errors);
        }
        foreach (var (name, value) in query)
        {
            if (declared.FirstOrDefault(p => (string?)p["in"] == "query" && (string?)p["name"] == name) is not { } p)
                errors.Add($"{what}: query parameter '{name}' is not declared.");
            else
                CheckParameterValue(p, value, $"{what} query parameter {name}", errors);
        }
        foreach (var p in declared.Where(p => (bool?)p["required"] == true))
        {
            var name = (string)p["name"]!;
            var present = (string?)p["in"] switch
            {
                "query" => query.Any(q => q.Name == name),
                "header" => headers.Keys.Any(h => string.Equals(h, name, StringComparison.OrdinalIgnoreCase)),
                _ => true,
            };
            if (!present) errors.Add($"{what}: required {(string?)p["in"]} parameter '{name}' is missing.");
        }

        CheckSecurity(what, operation, headers, errors);

        var requestBody = Resolve(operation["requestBody"]);
        var hasBody = body is { Length: > 0 };
        if (requestBody is null)
        {
            if (hasBody) errors.Add($"{what}: sends a body, but the operation takes none.");
            return errors;
        }
        if (!hasBody)
        {
            if ((bool?)requestBody["required"] == true) errors.Add($"{what}: the request body is required.");
            return errors;
        }
        var contentType = headers.FirstOrDefault(h => string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase)).Value;
        var mediaType = contentType?.Split(';')[0].Trim();
        if (mediaType is null || requestBody["content"]?[mediaType] is not { } content)
        {
            errors.Add($"{what}: Content-Type '{contentType}' is not one the operation accepts.");
            return errors;
        }
        CheckJson(content["schema"], body!, what + " body", errors);
        return errors;
    }

    /// <summary>A response the fake (or a recording) gave to a documented operation.</summary>
    public IReadOnlyList<string> CheckResponse(string method, string pathAndQuery, int status, string? contentType, byte[]? body)
    {
        var errors = new List<string>();
        var (path, _) = SplitQuery(pathAndQuery);
        if (FindOperation(method, path, errors) is not var (template, operation, _)) return errors;
        var what = $"{method} {template} → {status}";
        var responses = operation["responses"]?.AsObject();
        var response = Resolve(responses?[status.ToString(CultureInfo.InvariantCulture)] ?? responses?["default"]);
        if (response is null)
        {
            errors.Add($"{what}: the status is not documented.");
            return errors;
        }
        if (response["content"] is not JsonObject content || content.Count == 0)
        {
            if (body is { Length: > 0 }) errors.Add($"{what}: the answer has a body, but none is documented.");
            return errors;
        }
        var mediaType = contentType?.Split(';')[0].Trim();
        if (mediaType is null || content[mediaType] is not { } media)
        {
            errors.Add($"{what}: Content-Type '{contentType}' is not documented.");
            return errors;
        }
        CheckJson(media["schema"], body ?? [], what + " body", errors);
        return errors;
    }

    /// <summary>A webhook delivery of event <paramref name="type"/>, against the document's <c>x-webhooks</c>.</summary>
    public IReadOnlyList<string> CheckWebhook(string type, IReadOnlyDictionary<string, string> headers, byte[] body)
    {
        var errors = new List<string>();
        if (webhooks[type]?["post"] is not JsonObject operation)
        {
            errors.Add($"webhook {type}: no such event in x-webhooks.");
            return errors;
        }
        foreach (var p in (operation["parameters"]?.AsArray() ?? []).Select(Resolve).OfType<JsonObject>())
        {
            if ((string?)p["in"] != "header") continue;
            var name = (string)p["name"]!;
            var value = headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
            if (value is null)
            {
                if ((bool?)p["required"] == true) errors.Add($"webhook {type}: header '{name}' is missing.");
                continue;
            }
            CheckParameterValue(p, value, $"webhook {type} header {name}", errors);
        }
        var schema = operation["requestBody"]?["content"]?["application/json"]?["schema"];
        CheckJson(schema, body, $"webhook {type} body", errors);
        if (errors.Count == 0 && JsonNode.Parse(body)?["type"]?.GetValue<string>() != type)
            errors.Add($"webhook {type}: the body's type is not '{type}'.");
        return errors;
    }

    // ---------------------------------------------------------------- operations and parameters

    private (string Template, JsonObject Operation, List<(string Name, string Value)> PathParams)? FindOperation(string method, string path, List<string> errors)
    {
        var segments = path.Trim('/').Split('/');
        var candidates = new List<(string Template, int Literals, List<(string, string)> Params)>();
        foreach (var (template, _) in paths)
        {
            var parts = template.Trim('/').Split('/');
            if (parts.Length != segments.Length) continue;
            var ps = new List<(string, string)>();
            var literals = 0;
            var match = true;
            for (var i = 0; i < parts.Length && match; i++)
            {
                if (parts[i].StartsWith('{') && parts[i].EndsWith('}'))
                {
                    if (segments[i].Length == 0) match = false;
                    else ps.Add((parts[i][1..^1], Uri.UnescapeDataString(segments[i])));
                }
                else if (parts[i] == segments[i]) literals++;
                else match = false;
            }
            if (match) candidates.Add((template, literals, ps));
        }
        if (candidates.Count == 0)
        {
            errors.Add($"{method} {path}: no such path in the API.");
            return null;
        }
        var best = candidates.MaxBy(c => c.Literals);
        if (paths[best.Template]?[method.ToLowerInvariant()] is not JsonObject operation)
        {
            errors.Add($"{method} {best.Template}: the path has no {method} operation.");
            return null;
        }
        return (best.Template, operation, best.Params);
    }

    private List<JsonObject> DeclaredParameters(string template, JsonObject operation)
    {
        var all = new List<JsonObject>();
        foreach (var source in new[] { paths[template]?["parameters"], operation["parameters"] })
            foreach (var p in source?.AsArray() ?? [])
                if (Resolve(p) is JsonObject resolved) all.Add(resolved);
        return all;
    }

    private void CheckParameterValue(JsonObject parameter, string value, string at, List<string> errors)
    {
        var schema = parameter["schema"];
        var flat = Flatten(schema);
        // A parameter travels as text: read it as the JSON value its schema's type asks for.
        JsonNode? node = flat.Types.FirstOrDefault() switch
        {
            "boolean" when value is "true" or "false" => JsonValue.Create(value == "true"),
            "number" or "integer" when decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
            "boolean" or "number" or "integer" => JsonValue.Create(value), // wrong on purpose: the type check reports it
            _ => JsonValue.Create(value),
        };
        CheckNode(schema, node, at, errors);
    }

    private void CheckSecurity(string what, JsonObject operation, IReadOnlyDictionary<string, string> headers, List<string> errors)
    {
        if (operation["security"] is not JsonArray requirements || requirements.Count == 0) return;
        var authorization = headers.FirstOrDefault(h => string.Equals(h.Key, "Authorization", StringComparison.OrdinalIgnoreCase)).Value;
        var schemes = requirements.OfType<JsonObject>().SelectMany(r => r.Select(kv => kv.Key)).Distinct().ToList();
        foreach (var scheme in schemes)
        {
            var definition = securitySchemes[scheme];
            var accepted = (string?)definition?["type"] switch
            {
                // BTCPay's API keys: "Authorization: token <key>".
                "apiKey" when (string?)definition!["in"] == "header" && (string?)definition["name"] == "Authorization" =>
                    authorization is not null && TokenAuthorization().IsMatch(authorization),
                "http" when string.Equals((string?)definition!["scheme"], "basic", StringComparison.OrdinalIgnoreCase) =>
                    authorization?.StartsWith("Basic ", StringComparison.Ordinal) == true,
                _ => false,
            };
            if (accepted) return;
        }
        errors.Add($"{what}: the Authorization header matches none of the operation's security schemes ({string.Join(", ", schemes)}).");
    }

    [GeneratedRegex("^token [^\\s]+$")]
    private static partial Regex TokenAuthorization();

    private static (string Path, List<(string Name, string Value)> Query) SplitQuery(string pathAndQuery)
    {
        var q = pathAndQuery.IndexOf('?', StringComparison.Ordinal);
        if (q < 0) return (pathAndQuery, []);
        var query = pathAndQuery[(q + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .Select(kv => (Uri.UnescapeDataString(kv[0]), kv.Length > 1 ? Uri.UnescapeDataString(kv[1]) : ""))
            .ToList();
        return (pathAndQuery[..q], query);
    }

    // ---------------------------------------------------------------- schemas

    private void CheckJson(JsonNode? schema, byte[] body, string at, List<string> errors)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            errors.Add($"{at}: not JSON ({ex.Message}): {Encoding.UTF8.GetString(body)}");
            return;
        }
        if (schema is null)
        {
            errors.Add($"{at}: the document gives no schema.");
            return;
        }
        CheckNode(schema, node, at, errors);
    }

    /// <summary>Validates one JSON value against a schema, adding a line per problem.</summary>
    public void CheckNode(JsonNode? schema, JsonNode? node, string at, List<string> errors)
    {
        var flat = Flatten(schema);
        if (node is null)
        {
            if (!flat.Nullable && flat.Types.Count > 0) errors.Add($"{at}: is null, which the schema does not allow.");
            return;
        }

        var kind = Kind(node);
        if (flat.Contradictory)
        {
            errors.Add($"{at}: the schema's parts name different types ({string.Join(", ", flat.Types)}), so no value matches.");
            return;
        }
        if (flat.Types.Count > 0 && !flat.Types.Any(t => Matches(t, kind, node)))
        {
            errors.Add($"{at}: is a JSON {kind} ({Short(node)}), the schema wants {string.Join(" and ", flat.Types)}.");
            return;
        }

        foreach (var format in flat.Formats) CheckFormat(format, node, kind, at, errors);

        if (flat.Enum is { } allowed && !allowed.Any(a => JsonNode.DeepEquals(a, node)))
            errors.Add($"{at}: {Short(node)} is not one of {string.Join(", ", allowed.Select(a => a?.ToJsonString()))}.");

        if (kind == JsonValueKind.Number)
        {
            var value = node.GetValue<decimal>();
            if (flat.Minimum is { } min && value < min) errors.Add($"{at}: {value} is below the minimum {min}.");
            if (flat.Maximum is { } max && value > max) errors.Add($"{at}: {value} is above the maximum {max}.");
        }

        if (node is JsonObject obj) CheckObject(flat, obj, at, errors);
        if (node is JsonArray array && flat.Items.Count > 0)
            for (var i = 0; i < array.Count; i++)
                foreach (var items in flat.Items) CheckNode(items, array[i], $"{at}[{i}]", errors);

        // anyOf / oneOf: at least one part must accept the value as a whole.
        foreach (var alternatives in flat.Alternatives)
        {
            var failures = alternatives.Select(alt => { var e = new List<string>(); CheckNode(alt, node, at, e); return e; }).ToList();
            if (failures.All(f => f.Count > 0))
                errors.Add($"{at}: matches none of its alternatives ({string.Join(" | ", failures.Select(f => f[0]))}).");
        }
    }

    private void CheckObject(FlatSchema flat, JsonObject obj, string at, List<string> errors)
    {
        foreach (var (name, value) in obj)
        {
            var here = $"{at}.{name}";
            if (flat.Properties.TryGetValue(name, out var declarations))
            {
                foreach (var declaration in declarations) CheckNode(declaration, value, here, errors);
            }
            else if (flat.AlternativeProperties.TryGetValue(name, out var options))
            {
                var failures = options.Select(o => { var e = new List<string>(); CheckNode(o, value, here, e); return e; }).ToList();
                if (failures.All(f => f.Count > 0)) errors.AddRange(failures[0]);
            }
            else if (flat.AdditionalProperties is false)
            {
                errors.Add($"{here}: the schema has no such property (it allows no others).");
            }
            else if (flat.AdditionalProperties is JsonNode additional)
            {
                CheckNode(additional, value, here, errors);
            }
        }
        foreach (var name in flat.Required)
            if (!obj.ContainsKey(name)) errors.Add($"{at}: the required property '{name}' is missing.");
    }

    private static bool Matches(string type, JsonValueKind kind, JsonNode node) => type switch
    {
        "object" => kind == JsonValueKind.Object,
        "array" => kind == JsonValueKind.Array,
        "string" => kind == JsonValueKind.String,
        "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
        "number" => kind == JsonValueKind.Number,
        "integer" => kind == JsonValueKind.Number && node.GetValue<decimal>() == decimal.Truncate(node.GetValue<decimal>()),
        _ => false,
    };

    private static void CheckFormat(string format, JsonNode node, JsonValueKind kind, string at, List<string> errors)
    {
        switch (format)
        {
            case "int32" or "int64" when kind == JsonValueKind.Number:
                var n = node.GetValue<decimal>();
                var (lo, hi) = format == "int32" ? ((decimal)int.MinValue, (decimal)int.MaxValue) : (long.MinValue, long.MaxValue);
                if (n != decimal.Truncate(n) || n < lo || n > hi) errors.Add($"{at}: {n} is not an {format}.");
                break;
            case "decimal" when kind == JsonValueKind.String:
                if (!DecimalString().IsMatch(node.GetValue<string>())) errors.Add($"{at}: \"{node.GetValue<string>()}\" is not a decimal number.");
                break;
            case "date-time" when kind == JsonValueKind.String:
                if (!DateTimeOffset.TryParse(node.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.None, out _))
                    errors.Add($"{at}: \"{node.GetValue<string>()}\" is not a date-time.");
                break;
        }
    }

    [GeneratedRegex("^-?[0-9]+(\\.[0-9]+)?$")]
    private static partial Regex DecimalString();

    private static JsonValueKind Kind(JsonNode node) => node.GetValueKind();

    private static string Short(JsonNode node)
    {
        var s = node.ToJsonString();
        return s.Length <= 60 ? s : s[..60] + "…";
    }

    private JsonObject? Resolve(JsonNode? node)
    {
        for (var depth = 0; node is JsonObject obj && obj["$ref"] is JsonValue reference; depth++)
        {
            if (depth > 32) throw new InvalidOperationException("A $ref cycle.");
            var target = reference.GetValue<string>();
            node = target switch
            {
                _ when target.StartsWith("#/components/schemas/", StringComparison.Ordinal) => schemas[target["#/components/schemas/".Length..]],
                _ when target.StartsWith("#/components/parameters/", StringComparison.Ordinal) => parameters[target["#/components/parameters/".Length..]],
                _ => null,
            } ?? throw new InvalidOperationException($"The document refers to {target}, which none of its files defines.");
        }
        return node as JsonObject;
    }

    /// <summary>A schema with its <c>$ref</c>s resolved and its <c>allOf</c> parts merged.</summary>
    private sealed class FlatSchema
    {
        public HashSet<string> Types { get; } = [];
        /// <summary>Parts that name different types: no value can match them all.</summary>
        public bool Contradictory { get; set; }
        public HashSet<string> Formats { get; } = [];
        public bool Nullable { get; set; }
        public List<JsonNode?>? Enum { get; set; }
        public decimal? Minimum { get; set; }
        public decimal? Maximum { get; set; }
        public Dictionary<string, List<JsonNode>> Properties { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, List<JsonNode>> AlternativeProperties { get; } = new(StringComparer.Ordinal);
        public HashSet<string> Required { get; } = new(StringComparer.Ordinal);
        /// <summary>null: anything; false: nothing undeclared; a schema: what undeclared properties must match.</summary>
        public object? AdditionalProperties { get; set; }
        public List<JsonNode> Items { get; } = [];
        public List<List<JsonNode>> Alternatives { get; } = [];
    }

    private FlatSchema Flatten(JsonNode? schema)
    {
        var flat = new FlatSchema();
        Collect(schema, flat, 0);
        return flat;
    }

    private void Collect(JsonNode? node, FlatSchema flat, int depth)
    {
        if (depth > 32) throw new InvalidOperationException("allOf nested too deep.");
        if (Resolve(node) is not JsonObject schema) return;

        if ((string?)schema["type"] is { } type)
        {
            // Every part that names a type must agree: the merged schema accepts only what all of them accept.
            var compatible = flat.Types.Count == 0 || flat.Types.Contains(type)
                || (type is "number" or "integer" && flat.Types.Overlaps(["number", "integer"]));
            if (!compatible) flat.Contradictory = true;
            // "integer" is the narrower of the two numeric types: keep it when both appear.
            if (type == "integer") flat.Types.Remove("number");
            if (!(type == "number" && flat.Types.Contains("integer"))) flat.Types.Add(type);
        }
        if ((string?)schema["format"] is { } format) flat.Formats.Add(format);
        if ((bool?)schema["nullable"] == true) flat.Nullable = true;
        if (schema["enum"] is JsonArray values)
        {
            var list = values.ToList();
            flat.Enum = flat.Enum is null ? list : flat.Enum.Where(v => list.Any(l => JsonNode.DeepEquals(l, v))).ToList();
        }
        if (schema["minimum"] is JsonValue min) flat.Minimum = Math.Max(flat.Minimum ?? decimal.MinValue, min.GetValue<decimal>());
        if (schema["maximum"] is JsonValue max) flat.Maximum = Math.Min(flat.Maximum ?? decimal.MaxValue, max.GetValue<decimal>());
        if (schema["properties"] is JsonObject props)
            foreach (var (name, declaration) in props)
                Add(flat.Properties, name, declaration!);
        if (schema["required"] is JsonArray required)
            foreach (var r in required) flat.Required.Add(r!.GetValue<string>());
        switch (schema["additionalProperties"])
        {
            case JsonValue v when v.GetValueKind() == JsonValueKind.False: flat.AdditionalProperties = false; break;
            case JsonObject additional when flat.AdditionalProperties is not false: flat.AdditionalProperties = additional; break;
        }
        if (schema["items"] is { } items) flat.Items.Add(items);
        foreach (var key in new[] { "anyOf", "oneOf" })
        {
            if (schema[key] is not JsonArray alternatives) continue;
            flat.Alternatives.Add(alternatives.OfType<JsonNode>().ToList());
            foreach (var alternative in alternatives)
                if (Resolve(alternative)?["properties"] is JsonObject altProps)
                    foreach (var (name, declaration) in altProps)
                        Add(flat.AlternativeProperties, name, declaration!);
        }
        if (schema["allOf"] is JsonArray parts)
            foreach (var part in parts) Collect(part, flat, depth + 1);
    }

    private static void Add(Dictionary<string, List<JsonNode>> into, string name, JsonNode schema)
    {
        if (!into.TryGetValue(name, out var list)) into[name] = list = [];
        list.Add(schema);
    }
}
