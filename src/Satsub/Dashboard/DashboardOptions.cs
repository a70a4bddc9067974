using Microsoft.Extensions.Options;

namespace Satsub.Dashboard;

/// <summary><c>Dashboard</c>: the owner's web dashboard at <c>/admin</c>.</summary>
public sealed class DashboardOptions
{
    public const string Section = "Dashboard";

    /// <summary>Failed sign-ins allowed per client address within the window before it must wait.</summary>
    public int MaxFailedSignIns { get; set; } = 5;

    public int SignInWindowMinutes { get; set; } = 15;

    /// <summary>How long a sign-in lasts without activity.</summary>
    public int SessionHours { get; set; } = 8;
}

internal sealed class DashboardOptionsValidator : IValidateOptions<DashboardOptions>
{
    public ValidateOptionsResult Validate(string? name, DashboardOptions o)
    {
        var failures = new List<string>();
        if (o.MaxFailedSignIns is < 1 or > 1000) failures.Add($"Dashboard:MaxFailedSignIns must be between 1 and 1000 (was {o.MaxFailedSignIns}).");
        if (o.SignInWindowMinutes is < 1 or > 24 * 60) failures.Add($"Dashboard:SignInWindowMinutes must be between 1 and 1440 (was {o.SignInWindowMinutes}).");
        if (o.SessionHours is < 1 or > 24 * 30) failures.Add($"Dashboard:SessionHours must be between 1 and 720 (was {o.SessionHours}).");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
