using System.Globalization;
using Microsoft.Extensions.Options;
using NBitcoin;

namespace Satsub.Payments.Providers.BitPay;

/// <summary>Settings of the <c>bitpay</c> provider (section <c>Payments:BitPay</c>).</summary>
public sealed class BitPayOptions
{
    public const string Section = "Payments:BitPay";

    /// <summary><c>https://bitpay.com</c> or <c>https://test.bitpay.com</c>.</summary>
    public string? Url { get; set; }

    /// <summary>The merchant facade token, approved in the BitPay dashboard for the client identity below.</summary>
    public string? Token { get; set; }

    /// <summary>The paired client identity's secp256k1 private key, as 64 hex characters.</summary>
    public string? PrivateKey { get; set; }

    /// <summary>A file holding that hex key (instead of <see cref="PrivateKey"/>).</summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>Where BitPay posts its notifications: <c>https://&lt;host&gt;/api/v1/webhooks/bitpay</c>.</summary>
    public string? NotificationUrl { get; set; }

    /// <summary>Time-out of one call to BitPay.</summary>
    public int TimeoutSeconds { get; set; } = 10;

    /// <summary>The client identity's key, from <see cref="PrivateKey"/> or the file at <see cref="PrivateKeyPath"/>.</summary>
    internal Key LoadKey()
    {
        var hex = !string.IsNullOrWhiteSpace(PrivateKey) ? PrivateKey : File.ReadAllText(PrivateKeyPath!);
        return ParseKey(hex) ?? throw new InvalidOperationException("Payments:BitPay:PrivateKey is not a 64-character hex secp256k1 key.");
    }

    internal static Key? ParseKey(string? hex)
    {
        hex = hex?.Trim();
        if (hex is null || hex.Length != 64 || !hex.All(Uri.IsHexDigit)) return null;
        try
        {
            return new Key(Convert.FromHexString(hex));
        }
        catch (ArgumentException)
        {
            return null; // zero or not below the curve order
        }
    }
}

internal sealed class BitPayOptionsValidator : IValidateOptions<BitPayOptions>
{
    public ValidateOptionsResult Validate(string? name, BitPayOptions o)
    {
        var failures = new List<string>();
        ProviderUrls.Check(failures, "Payments:BitPay:Url", o.Url, "bitpay", "the server's root, such as https://bitpay.com or https://test.bitpay.com");
        if (string.IsNullOrWhiteSpace(o.Token))
            failures.Add("Payments:BitPay:Token is required when the bitpay provider is selected: the merchant facade token approved for this client's key.");

        var hasKey = !string.IsNullOrWhiteSpace(o.PrivateKey);
        var hasPath = !string.IsNullOrWhiteSpace(o.PrivateKeyPath);
        if (hasKey && hasPath)
            failures.Add("Payments:BitPay:PrivateKey and Payments:BitPay:PrivateKeyPath are both set: set only one.");
        else if (!hasKey && !hasPath)
            failures.Add("Payments:BitPay:PrivateKey (or Payments:BitPay:PrivateKeyPath) is required when the bitpay provider is selected: the hex secp256k1 key of the paired client identity.");
        else if (hasKey && BitPayOptions.ParseKey(o.PrivateKey) is null)
            failures.Add("Payments:BitPay:PrivateKey must be a 64-character hex secp256k1 private key.");
        else if (hasPath && !File.Exists(o.PrivateKeyPath))
            failures.Add($"Payments:BitPay:PrivateKeyPath points to no file ('{o.PrivateKeyPath}').");
        else if (hasPath && BitPayOptions.ParseKey(File.ReadAllText(o.PrivateKeyPath!)) is null)
            failures.Add("Payments:BitPay:PrivateKeyPath must name a file holding a 64-character hex secp256k1 private key.");

        ProviderUrls.Check(failures, "Payments:BitPay:NotificationUrl", o.NotificationUrl, "bitpay");
        if (o.TimeoutSeconds is < 1 or > 120)
            failures.Add(string.Create(CultureInfo.InvariantCulture, $"Payments:BitPay:TimeoutSeconds must be between 1 and 120 (was {o.TimeoutSeconds})."));
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
