using Microsoft.Extensions.Options;
using NBitcoin;
using Satsub.Bitcoin;

namespace Satsub.Transparency;

/// <summary>
/// <c>Transparency</c>: the owner's bitcoin key that signs closed monthly reports, and the public address of the pages.
/// The key is a secret: it is read from configuration (an environment variable or user secrets) and never logged.
/// </summary>
public sealed class TransparencyOptions
{
    public const string Section = "Transparency";

    /// <summary>The owner's private key in WIF. Without it closed reports are final but unsigned until a key is configured.</summary>
    public string? SigningKeyWif { get; set; }

    /// <summary>
    /// The address the signatures are checked against. Empty: the key's P2PKH address (legacy message signing,
    /// which every major wallet verifies). A P2WPKH, P2SH-P2WPKH or P2TR address of the same key signs with BIP-322 (simple).
    /// </summary>
    public string? SigningAddress { get; set; }

    /// <summary>How long after a month ends its report is closed, so sales committing at midnight are in it.</summary>
    public int CloseDelayMinutes { get; set; } = 10;

    /// <summary>The public base URL (such as <c>https://subs.example.com</c>), for links the bot shows. Empty: relative links.</summary>
    public string? PublicUrl { get; set; }

    // The options object is printed by nothing, but a ToString that reveals the key would be one mistake away.
    public override string ToString() => $"TransparencyOptions(SigningAddress={SigningAddress}, key {(string.IsNullOrEmpty(SigningKeyWif) ? "absent" : "set")})";
}

internal sealed class TransparencyOptionsValidator(IOptions<BitcoinOptions> bitcoin) : IValidateOptions<TransparencyOptions>
{
    public ValidateOptionsResult Validate(string? name, TransparencyOptions o)
    {
        var failures = new List<string>();
        if (o.CloseDelayMinutes is < 0 or > 24 * 60)
            failures.Add($"Transparency:CloseDelayMinutes must be between 0 and 1440 (was {o.CloseDelayMinutes}).");
        if (!string.IsNullOrWhiteSpace(o.PublicUrl) && !(Uri.TryCreate(o.PublicUrl, UriKind.Absolute, out var u) && (u.Scheme == "https" || u.Scheme == "http")))
            failures.Add("Transparency:PublicUrl must be an absolute http(s) URL.");
        if (string.IsNullOrWhiteSpace(o.SigningKeyWif))
        {
            if (!string.IsNullOrWhiteSpace(o.SigningAddress))
                failures.Add("Transparency:SigningAddress is set but Transparency:SigningKeyWif is not.");
        }
        else
        {
            try
            {
                ReportSigner.Create(o, bitcoin.Value.ToNBitcoin());
            }
            catch (FormatException ex)
            {
                // The message never contains the key itself.
                failures.Add(ex.Message);
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
