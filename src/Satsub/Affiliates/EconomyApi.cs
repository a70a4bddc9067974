using Satsub.Operations;

namespace Satsub.Affiliates;

public static class EconomyApi
{
    /// <summary>The affiliate economy's routes beyond payouts: commission review, admin flags, pay with earnings.</summary>
    public static RouteGroupBuilder MapEconomyApi(this RouteGroupBuilder api) =>
        api.MapCommissionReviewApi().MapAdminFlagsApi().MapPayWithEarningsApi();
}
