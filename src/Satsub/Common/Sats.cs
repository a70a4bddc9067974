using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Satsub.Common;

/// <summary>
/// An amount of bitcoin in whole satoshis. Money never travels as a floating-point number:
/// the value is a <see cref="long"/> and arithmetic is checked, so an overflow throws instead of wrapping.
/// </summary>
[JsonConverter(typeof(SatsJsonConverter))]
public readonly record struct Sats(long Value) : IComparable<Sats>
{
    /// <summary>21 million BTC: no real amount can exceed it.</summary>
    public const long MaxMoney = 21_000_000L * 100_000_000L;

    public static readonly Sats Zero = new(0);

    public static Sats operator +(Sats a, Sats b) => new(checked(a.Value + b.Value));
    public static Sats operator -(Sats a, Sats b) => new(checked(a.Value - b.Value));
    public static Sats operator -(Sats a) => new(checked(-a.Value));
    public static bool operator <(Sats a, Sats b) => a.Value < b.Value;
    public static bool operator >(Sats a, Sats b) => a.Value > b.Value;
    public static bool operator <=(Sats a, Sats b) => a.Value <= b.Value;
    public static bool operator >=(Sats a, Sats b) => a.Value >= b.Value;

    public int CompareTo(Sats other) => Value.CompareTo(other.Value);

    /// <summary>A price or payment amount: positive and at most <see cref="MaxMoney"/>.</summary>
    public bool IsValidPayment => Value > 0 && Value <= MaxMoney;

    /// <summary>
    /// The share <paramref name="bps"/>/10000 of this amount, rounded down.
    /// The product is computed in 128 bits, so it cannot overflow for any amount and rate.
    /// </summary>
    public Sats BasisPoints(int bps)
    {
        if (bps is < 0 or > 10_000) throw new ArgumentOutOfRangeException(nameof(bps), bps, "must be 0..10000");
        if (Value < 0) throw new InvalidOperationException("A share is only taken of a non-negative amount.");
        return new((long)((Int128)Value * bps / 10_000));
    }

    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture) + " sats";
}

/// <summary>Serializes <see cref="Sats"/> as a plain JSON integer.</summary>
public sealed class SatsJsonConverter : JsonConverter<Sats>
{
    public override Sats Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        new(reader.GetInt64());

    public override void Write(Utf8JsonWriter writer, Sats value, JsonSerializerOptions options) =>
        writer.WriteNumberValue(value.Value);
}
