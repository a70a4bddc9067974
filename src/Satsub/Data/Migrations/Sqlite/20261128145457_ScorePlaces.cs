using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class ScorePlaces : Migration
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
