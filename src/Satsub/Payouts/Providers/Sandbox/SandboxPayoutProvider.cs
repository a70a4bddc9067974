using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Satsub.Payouts.Providers.Sandbox;

/// <summary>
/// The development payout provider: it pays nobody, completes at once (so within the worker's next run, a few
/// seconds), charges no fee and records a reference that says so: <c>sandbox:&lt;random hex&gt;</c>. It remembers what
/// it "sent" for the life of the process, so a crash between sending and recording is reconciled like a real one.
/// Refused in Production.
/// </summary>
public sealed class SandboxPayoutProvider : IPayoutProvider
{
    public const string ProviderName = "sandbox";
    public const string ReferencePrefix = "sandbox:";

    private readonly ConcurrentDictionary<Guid, PayoutAttempt> sent = new();

    public string Name => ProviderName;

    public Task<PayoutAttempt> SendAsync(Payout payout, CancellationToken ct)
    {
        var result = sent.GetOrAdd(payout.Id, _ =>
        {
            var reference = ReferencePrefix + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
            return payout.DestinationType == PayoutDestination.TypeNameOf(PayoutDestinationKind.Onchain)
                ? PayoutAttempt.Sent(payout.AmountSats, 0, txid: reference)
                : PayoutAttempt.Sent(payout.AmountSats, 0, paymentHash: payout.PaymentHash ?? reference);
        });
        return Task.FromResult(result);
    }

    public Task<PayoutAttempt?> LookupAsync(Payout payout, CancellationToken ct) =>
        Task.FromResult(sent.TryGetValue(payout.Id, out var result) ? result : null);
}
