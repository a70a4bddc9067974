namespace Satsub.Ledger;

/// <summary>The ledger's account names (SPEC.md, "Ledger").</summary>
public static class Accounts
{
    /// <summary>Where buyers' money comes from: its balance is minus everything ever sold.</summary>
    public const string CustomerPayments = "customer_payments";
    public const string OwnerRevenue = "owner_revenue";
    public const string PayoutsInFlight = "payouts_in_flight";

    public static string AffiliatePending(Guid userId) => $"affiliate:{userId:D}:pending";
    public static string AffiliateAvailable(Guid userId) => $"affiliate:{userId:D}:available";
    public static string AffiliatePaid(Guid userId) => $"affiliate:{userId:D}:paid";
}
