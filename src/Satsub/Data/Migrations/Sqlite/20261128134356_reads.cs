using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Reads : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "affiliate_places");

            migrationBuilder.AddColumn<long>(
                name: "ranked_score",
                table: "affiliate_standings",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "ranked_score",
                table: "affiliate_month_standings",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "affiliate_score_places",
                columns: table => new
                {
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    score = table.Column<long>(type: "INTEGER", nullable: false),
                    place = table.Column<int>(type: "INTEGER", nullable: false),
                    affiliates = table.Column<int>(type: "INTEGER", nullable: false),
                    computed_at = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_score_places", x => new { x.month, x.score });
                });

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_standings_dirty_ranked",
                table: "affiliate_standings",
                column: "ranked_score",
                filter: "rank_dirty");

            migrationBuilder.CreateIndex(
                name: "ix_affiliate_month_standings_dirty_ranked",
                table: "affiliate_month_standings",
                columns: new[] { "month", "ranked_score" },
                filter: "rank_dirty");

            // The places per score of the current ranked scores (the dirty flags stay: a read corrects these places
            // with the rows changed since, whichever scores they were ranked with), so reads stay exact without waiting
            // for the rank job.
            migrationBuilder.Sql(
                "UPDATE affiliate_standings SET ranked_score = CASE WHEN visible AND sales > 0 THEN score END;\n" +
                "UPDATE affiliate_month_standings SET ranked_score = CASE WHEN visible AND sales > 0 THEN score END;\n" +
                "INSERT INTO affiliate_score_places (month, score, place, affiliates, computed_at) " +
                "SELECT c.month, c.ranked_score, CAST(1 + COALESCE(SUM(c.n) OVER (PARTITION BY c.month ORDER BY c.ranked_score DESC " +
                "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS integer), CAST(c.n AS integer), CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) " +
                "FROM (SELECT 0 AS month, ranked_score, count(*) AS n FROM affiliate_standings WHERE ranked_score IS NOT NULL GROUP BY ranked_score " +
                "UNION ALL SELECT month, ranked_score, count(*) AS n FROM affiliate_month_standings WHERE ranked_score IS NOT NULL GROUP BY month, ranked_score) AS c;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "affiliate_score_places");

            migrationBuilder.DropIndex(
                name: "ix_affiliate_standings_dirty_ranked",
                table: "affiliate_standings");

            migrationBuilder.DropIndex(
                name: "ix_affiliate_month_standings_dirty_ranked",
                table: "affiliate_month_standings");

            migrationBuilder.DropColumn(
                name: "ranked_score",
                table: "affiliate_standings");

            migrationBuilder.DropColumn(
                name: "ranked_score",
                table: "affiliate_month_standings");

            migrationBuilder.CreateTable(
                name: "affiliate_places",
                columns: table => new
                {
                    month = table.Column<int>(type: "INTEGER", nullable: false),
                    affiliate_id = table.Column<Guid>(type: "TEXT", nullable: false),
                    computed_at = table.Column<long>(type: "INTEGER", nullable: false),
                    place = table.Column<int>(type: "INTEGER", nullable: true),
                    ranked_score = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_affiliate_places", x => new { x.month, x.affiliate_id });
                });
        }
    }
}
