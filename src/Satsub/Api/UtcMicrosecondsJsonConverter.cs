using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Satsub.Api;

/// <summary>
/// Writes times in UTC with microseconds (<c>2026-01-31T12:00:00.123456Z</c>), the precision both databases keep:
/// an answer built from memory and the same answer read back later (a replayed settlement) print alike.
/// </summary>
public sealed class UtcMicrosecondsJsonConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetDateTimeOffset();

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options)
    {
        var utc = value.UtcDateTime;
        utc = new DateTime(utc.Ticks - utc.Ticks % 10, DateTimeKind.Utc);
        writer.WriteStringValue(utc.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture));
    }
}
