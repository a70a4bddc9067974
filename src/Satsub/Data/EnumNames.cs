using System.Text;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Satsub.Data;

/// <summary>Stores enums as their snake_case names (<c>pending_payment</c>), the same words the API uses.</summary>
public static class EnumNames
{
    public static string ToSnake<T>(T value) where T : struct, Enum => Snake(value.ToString());

    public static bool TryParse<T>(string? text, out T value) where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (string.Equals(ToSnake(candidate), text, StringComparison.Ordinal))
            {
                value = candidate;
                return true;
            }
        }
        value = default;
        return false;
    }

    public static T Parse<T>(string text) where T : struct, Enum =>
        TryParse<T>(text, out var value) ? value : throw new FormatException($"'{text}' is not a {typeof(T).Name}.");

    public static ValueConverter<T, string> Converter<T>() where T : struct, Enum =>
        new(v => ToSnake(v), s => Parse<T>(s));

    private static string Snake(string pascal)
    {
        var sb = new StringBuilder(pascal.Length + 4);
        for (var i = 0; i < pascal.Length; i++)
        {
            var c = pascal[i];
            if (char.IsUpper(c))
            {
                if (i > 0) sb.Append('_');
                sb.Append(char.ToLowerInvariant(c));
            }
            else
            {
                sb.Append(c);
            }
        }
        return sb.ToString();
    }
}
