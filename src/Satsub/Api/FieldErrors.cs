using System.Text;

namespace Satsub.Api;

/// <summary>Collects field validation errors for a <c>validation_failed</c> problem (400 with <c>errors</c>).</summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, List<string>> errors = new(StringComparer.Ordinal);

    public bool Any => errors.Count > 0;

    public void Add(string field, string message)
    {
        if (!errors.TryGetValue(field, out var list)) errors[field] = list = [];
        list.Add(message);
    }

    public Dictionary<string, string[]> ToDictionary() => errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    /// <summary>
    /// A trimmed text field: null when absent or blank (an error if required); an error when longer than
    /// <paramref name="max"/> or holding control characters or broken UTF-16 (the database would refuse them).
    /// </summary>
    public string? Text(string field, string? value, int max, bool required = false)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            if (required) Add(field, "is required.");
            return null;
        }
        var text = value.Trim();
        if (text.Length > max) Add(field, $"must be at most {max} characters.");
        else if (!IsPrintable(text)) Add(field, "must not contain control characters or invalid Unicode.");
        return text;
    }

    public static bool IsPrintable(string text)
    {
        foreach (var rune in text.EnumerateRunes())
        {
            if (Rune.IsControl(rune)) return false;
        }
        // EnumerateRunes turns lone surrogates into U+FFFD, so look for them separately.
        return !HasLoneSurrogate(text);
    }

    private static bool HasLoneSurrogate(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]))
            {
                if (i + 1 >= text.Length || !char.IsLowSurrogate(text[i + 1])) return true;
                i++;
            }
            else if (char.IsLowSurrogate(text[i])) return true;
        }
        return false;
    }

    /// <summary>A Guid id in a body field; null (with an error) when absent or malformed.</summary>
    public Guid? Id(string field, string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            Add(field, "is required.");
            return null;
        }
        if (value.Length > 64 || !Guid.TryParse(value.Trim(), out var id))
        {
            Add(field, "is not a valid id.");
            return null;
        }
        return id;
    }
}

/// <summary>Reading strings out of <see cref="System.Text.Json.JsonElement"/> without exceptions.</summary>
public static class JsonElementText
{
    /// <summary>The string value, or null when the element is not a string or holds broken UTF-16 escapes (<c>"\udfff"</c>).</summary>
    public static string? StringOrNull(this System.Text.Json.JsonElement element)
    {
        if (element.ValueKind != System.Text.Json.JsonValueKind.String) return null;
        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }
}
