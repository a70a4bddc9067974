using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Standings : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "affiliate_customers",
                columns: table => new
                {
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    buyer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    settled_sales = table.Column<int>(type: "INTEGER", nullable: false),
                    counted_sales = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_customers", x => new { x.affiliate_id, x.buyer_id });
                });

            migrationBuilder.CreateTable(
                name: "affiliate_month_customers",
                columns: table => new
                {
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    buyer_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    counted_sales = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_month_customers", x => new { x.affiliate_id, x.month, x.buyer_id });
                });

            migrationBuilder.CreateTable(
                name: "affiliate_month_standings",
                columns: table => new
                {
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    paying_customers = table.Column<int>(type: "INTEGER", nullable: false),
                    sales = table.Column<int>(type: "INTEGER", nullable: false),
                    referred_sales_sats = table.Column<long>(type: "INTEGER", nullable: false),
                    score = table.Column<long>(type: "INTEGER", nullable: false),
                    visible = table.Column<bool>(type: "INTEGER", nullable: false),
                    rank_dirty = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_month_standings", x => new { x.affiliate_id, x.month });
                });

            migrationBuilder.CreateTable(
                name: "affiliate_places",
                columns: table => new
                {
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    place = table.Column<int>(type: "INTEGER", nullable: true),
                    ranked_score = table.Column<long>(type: "INTEGER", nullable: true),
                    computed_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_places", x => new { x.month, x.affiliate_id });
                });

            migrationBuilder.CreateTable(
                name: "affiliate_standings",
                columns: table => new
                {
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    referred_users = table.Column<int>(type: "INTEGER", nullable: false),
                    paying_referrals = table.Column<int>(type: "INTEGER", nullable: false),
                    paying_customers = table.Column<int>(type: "INTEGER", nullable: false),
                    sales = table.Column<int>(type: "INTEGER", nullable: false),
                    referred_sales_sats = table.Column<long>(type: "INTEGER", nullable: false),
                    score = table.Column<long>(type: "INTEGER", nullable: false),
                    visible = table.Column<bool>(type: "INTEGER", nullable: false),
                    rank_dirty = table.Column<bool>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_standings", x => x.affiliate_id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_month_standings_dirty",
                table: "affiliate_month_standings",
                columns: new[] { "month", "score" },
                filter: "rank_dirty");

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_month_standings_month_visible_score_paying_customers_referred_sales_sats_affiliate_id",
                table: "affiliate_month_standings",
                columns: new[] { "month", "visible", "score", "paying_customers", "referred_sales_sats", "affiliate_id" },
                descending: new[] { false, false, true, true, true, false });

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_standings_dirty",
                table: "affiliate_standings",
                column: "score",
                filter: "rank_dirty");

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_standings_visible_score_paying_customers_referred_sales_sats_affiliate_id",
                table: "affiliate_standings",
                columns: new[] { "visible", "score", "paying_customers", "referred_sales_sats", "affiliate_id" },
                descending: new[] { false, true, true, true, false });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "affiliate_customers");

            migrationBuilder.DropTable(
                name: "affiliate_month_customers");

            migrationBuilder.DropTable(
                name: "affiliate_month_standings");

            migrationBuilder.DropTable(
                name: "affiliate_places");

            migrationBuilder.DropTable(
                name: "affiliate_standings");
        }
    }
}
