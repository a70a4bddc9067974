using CsCheck;
using Satsub.Common;
using Satsub.Ledger;

namespace Satsub.Tests.Ledger;

public sealed class SplitProperties
{
    private static readonly Gen<long> Sale = Gen.OneOf(Gen.Long[1, 1_000_000], Gen.Long[1, Sats.MaxMoney], Gen.Const(Sats.MaxMoney), Gen.Const(1L));
    private static readonly Gen<int> Rate = Gen.OneOf(Gen.Int[0, 10_000], Gen.Const(0), Gen.Const(10_000), Gen.Const(5000));

    [Fact]
    public void Split_ForAnySaleAndRate_NeitherCreatesNorLosesASatoshi() =>
        Gen.Select(Sale, Rate).Sample((sale, bps) =>
        {
            var split = Split.Of(new Sats(sale), bps);
            Assert.Equal(sale, split.Owner.Value + split.Affiliate.Value);
            Assert.True(split.Affiliate.Value >= 0 && split.Owner.Value >= 0);
            // floor(sale × bps / 10000), computed independently with BigInteger.
            var expected = (long)(new System.Numerics.BigInteger(sale) * bps / 10_000);
            Assert.Equal(expected, split.Affiliate.Value);
            Assert.Equal(bps, split.RateBps);
        }, iter: 20_000);

    [Fact]
    public void Split_RemainderGoesToTheOwner() =>
        Gen.Select(Sale, Rate).Sample((sale, bps) =>
        {
            var split = Split.Of(new Sats(sale), bps);
            // The affiliate never gets more than their exact share; whatever rounding leaves is the owner's.
            Assert.True((System.Numerics.BigInteger)split.Affiliate.Value * 10_000 <= (System.Numerics.BigInteger)sale * bps);
            Assert.True(((System.Numerics.BigInteger)split.Affiliate.Value + 1) * 10_000 > (System.Numerics.BigInteger)sale * bps);
        }, iter: 20_000);

    [Fact]
    public void Split_WithoutReferrer_GivesEverythingToTheOwner() =>
        Sale.Sample(sale =>
        {
            var split = Split.Of(new Sats(sale), null);
            Assert.Equal(sale, split.Owner.Value);
            Assert.Equal(0, split.Affiliate.Value);
        });

    [Theory]
    [InlineData(10_000, 5000, 5000, 5000)]
    [InlineData(25_001, 5000, 12_501, 12_500)]
    [InlineData(1, 5000, 1, 0)]
    [InlineData(3, 3333, 3, 0)]
    [InlineData(999, 10_000, 0, 999)]
    public void Split_Examples(long sale, int bps, long owner, long affiliate)
    {
        var split = Split.Of(new Sats(sale), bps);
        Assert.Equal(owner, split.Owner.Value);
        Assert.Equal(affiliate, split.Affiliate.Value);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(Sats.MaxMoney + 1)]
    public void Split_RefusesAmountsThatAreNotSales(long sale) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Split.Of(new Sats(sale), 5000));

    [Theory]
    [InlineData(-1)]
    [InlineData(10_001)]
    public void Split_RefusesRatesOutsideZeroToTenThousand(int bps) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Split.Of(new Sats(1000), bps));

    [Fact]
    public void Sats_ArithmeticIsChecked() =>
        Assert.Throws<OverflowException>(() => new Sats(long.MaxValue) + new Sats(1));
}
