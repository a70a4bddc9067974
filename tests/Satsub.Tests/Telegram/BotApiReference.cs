using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Satsub.Tests.Fixtures;

namespace Satsub.Tests.Telegram;

/// <summary>
/// The official Bot API description (<c>shared/reference/telegram/bot-api.min.json</c>) and a check of recorded calls
/// against it: the method exists, every parameter exists for it with a value of one of its documented types, and every
/// required parameter is present.
/// </summary>
public static class BotApiReference
{
    private static readonly Lazy<JsonObject> Methods = new(() =>
    {
        var path = Path.Combine(SharedReference.Folder("telegram"), "bot-api.min.json");
        return JsonNode.Parse(File.ReadAllText(path))!["methods"]!.AsObject();
    });

    public static IReadOnlyList<string> Violations(IEnumerable<FakeBotApi.Call> calls)
    {
        var problems = new List<string>();
        foreach (var call in calls)
        {
            if (Methods.Value[call.Method] is not JsonObject method)
            {
                problems.Add($"{call.Method}: no such method in the Bot API reference");
                continue;
            }
            var fields = method["fields"]?.AsArray().Select(f => f!.AsObject()).ToDictionary(f => f["name"]!.GetValue<string>()) ?? [];
            foreach (var (name, param) in call.Params)
            {
                if (!fields.TryGetValue(name, out var field))
                {
                    problems.Add($"{call.Method}.{name}: no such parameter");
                    continue;
                }
                var types = field["types"]!.AsArray().Select(t => t!.GetValue<string>()).ToList();
                // The documented formatting modes, spelled as documented.
                if (name.EndsWith("parse_mode", StringComparison.Ordinal) && param.Value?.ToString() is not ("HTML" or "MarkdownV2" or "Markdown"))
                    problems.Add($"{call.Method}.{name}: '{param.Value}' is not one of HTML, MarkdownV2, Markdown");
                if (!types.Any(t => Matches(t, param)))
                    problems.Add($"{call.Method}.{name}: value {param.Value?.ToJsonString()} does not match {string.Join(" or ", types)}");
            }
            foreach (var (name, field) in fields)
            {
                if (field["required"]!.GetValue<bool>() && !call.Params.ContainsKey(name))
                    problems.Add($"{call.Method}.{name}: required but missing");
            }
        }
        return problems.Distinct().ToList();
    }

    private static bool Matches(string type, FakeBotApi.Param p)
    {
        if (p.IsFile) return type == "InputFile";
        if (p.FromForm)
        {
            var s = p.Value?.ToString() ?? "";
            return type switch
            {
                "Integer" => long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
                "Float" => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out _),
                "Boolean" => s is "true" or "false",
                "String" => true,
                "InputFile" => false,
                _ when type.StartsWith("Array of", StringComparison.Ordinal) => IsJson(s, JsonValueKind.Array),
                _ => IsJson(s, JsonValueKind.Object),
            };
        }
        var kind = p.Value?.GetValueKind() ?? JsonValueKind.Null;
        return type switch
        {
            "Integer" => kind == JsonValueKind.Number && long.TryParse(p.Value!.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _),
            "Float" => kind == JsonValueKind.Number,
            "Boolean" => kind is JsonValueKind.True or JsonValueKind.False,
            "String" => kind == JsonValueKind.String,
            "InputFile" => false,
            _ when type.StartsWith("Array of", StringComparison.Ordinal) => kind == JsonValueKind.Array,
            _ => kind == JsonValueKind.Object,
        };
    }

    private static bool IsJson(string s, JsonValueKind kind)
    {
        try { return JsonNode.Parse(s)?.GetValueKind() == kind; }
        catch (JsonException) { return false; }
    }
}
