namespace Satsub.Common;

/// <summary>
/// A request that the rules refuse. <see cref="Code"/> is stable (it becomes the problem details' <c>code</c>);
/// <see cref="Status"/> is the HTTP status an API answers with.
/// </summary>
public class DomainException(string code, string message, int status = 422) : Exception(message)
{
    public string Code { get; } = code;
    public int Status { get; } = status;
}
