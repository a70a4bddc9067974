using Satsub.Affiliates.Rating;

namespace Satsub.Tests.Affiliates;

public sealed class RatingOptionsTests
{
    [Fact]
    public void Defaults_AreValid() => Assert.True(new RatingOptionsValidator().Validate(null, new RatingOptions()).Succeeded);

    [Theory]
    [InlineData(-1, 10, 20, "Affiliate:Rating:PayingCustomers")]
    [InlineData(100, 1001, 20, "Affiliate:Rating:ReferredSalesPer100kSats")]
    [InlineData(100, 10, -5, "Affiliate:Rating:Renewals")]
    [InlineData(0, 0, 0, "at least one weight")]
    public void AWrongWeight_IsNamed(int customers, int sales, int renewals, string message)
    {
        var result = new RatingOptionsValidator().Validate(null, new RatingOptions { PayingCustomers = customers, ReferredSalesPer100kSats = sales, Renewals = renewals });
        Assert.True(result.Failed);
        Assert.Contains(result.Failures!, f => f.Contains(message, StringComparison.Ordinal));
    }
}
