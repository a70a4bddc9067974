using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Satsub.Data;

namespace Satsub.Plans;

public sealed class PlanCatalog(SatsubDbContext db, IOptions<PlansOptions> configured, TimeProvider clock)
{
    /// <summary>Writes the configured plans to the database (insert or overwrite); other plans are left alone.</summary>
    public async Task ApplyConfigurationAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var existing = await db.Plans.ToDictionaryAsync(p => p.Code, StringComparer.Ordinal, ct);
        foreach (var (code, def) in configured.Value)
        {
            if (!existing.TryGetValue(code, out var plan))
            {
                plan = new Plan { Code = code };
                db.Plans.Add(plan);
            }
            plan.Name = def.Name;
            plan.Description = def.Description;
            plan.PriceSats = def.PriceSats;
            plan.FiatAmount = def.FiatPrice;
            plan.FiatCurrency = def.FiatCurrency;
            plan.DurationDays = def.DurationDays;
            plan.Chats = [.. def.Chats];
            plan.Active = def.Active;
            plan.Source = Plan.FromConfiguration;
            plan.UpdatedAt = now;
        }
        await db.SaveChangesAsync(ct);
    }

    public Task<List<Plan>> ListAsync(bool activeOnly, CancellationToken ct) =>
        db.Plans.AsNoTracking().Where(p => !activeOnly || p.Active).OrderBy(p => p.PriceSats).ThenBy(p => p.Code).ToListAsync(ct);

    public Task<Plan?> FindActiveAsync(string code, CancellationToken ct) =>
        db.Plans.AsNoTracking().SingleOrDefaultAsync(p => p.Code == code && p.Active, ct);
}
