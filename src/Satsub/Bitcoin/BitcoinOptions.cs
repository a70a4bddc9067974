using Microsoft.Extensions.Options;
using NBitcoin;

namespace Satsub.Bitcoin;

/// <summary><c>Bitcoin:Network</c> governs every address and invoice check.</summary>
public sealed class BitcoinOptions
{
    public const string Section = "Bitcoin";

    public string Network { get; set; } = "mainnet";

    public Network ToNBitcoin() => Network.ToLowerInvariant() switch
    {
        "mainnet" => NBitcoin.Network.Main,
        "testnet" => NBitcoin.Network.TestNet,
        "signet" => NBitcoin.Bitcoin.Instance.Signet,
        "regtest" => NBitcoin.Network.RegTest,
        _ => throw new InvalidOperationException($"Unknown Bitcoin:Network '{Network}'."),
    };
}

internal sealed class BitcoinOptionsValidator : IValidateOptions<BitcoinOptions>
{
    private static readonly string[] Known = ["mainnet", "testnet", "signet", "regtest"];

    public ValidateOptionsResult Validate(string? name, BitcoinOptions options) =>
        Known.Contains(options.Network.ToLowerInvariant())
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Bitcoin:Network must be one of mainnet, testnet, signet, regtest (was '{options.Network}').");
}
