using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Reports : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "affiliate_balance_change_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "commissions_accrued_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "owner_share_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "payout_fees_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "payouts_count",
                table: "closed_reports",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "payouts_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "refunds_count",
                table: "closed_reports",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "refunds_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "row_count",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "sales_count",
                table: "closed_reports",
                type: "integer",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "sales_sats",
                table: "closed_reports",
                type: "bigint",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "closed_report_parts",
                columns: table => new
                {
                    month = table.Column<string>(type: "character varying(7)", maxLength: 7, nullable: false),
                    sequence = table.Column<int>(type: "integer", nullable: false),
                    text = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_closed_report_parts", x => new { x.month, x.sequence });
                    table.ForeignKey(
                        name: "fk_closed_report_parts_closed_reports_month",
                        column: x => x.month,
                        principalTable: "closed_reports",
                        principalColumn: "month",
                        onDelete: ReferentialAction.Cascade);
                });

            // Reports stored whole move into parts of 524,288 characters, so every published byte stays as it was; their
            // totals (null here) are summed from the CSV on first read.
            migrationBuilder.Sql("""
                INSERT INTO closed_report_parts (month, sequence, text)
                SELECT r.month, g.i, substr(r.csv, g.i * 524288 + 1, 524288)
                FROM closed_reports r, generate_series(0, greatest(length(r.csv) - 1, 0) / 524288) AS g(i);
                """);

            migrationBuilder.DropColumn(
                name: "csv",
                table: "closed_reports");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "affiliate_balance_change_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "commissions_accrued_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "owner_share_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "payout_fees_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "payouts_count",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "payouts_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "refunds_count",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "refunds_sats",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "row_count",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "sales_count",
                table: "closed_reports");

            migrationBuilder.DropColumn(
                name: "sales_sats",
                table: "closed_reports");

            migrationBuilder.AddColumn<string>(
                name: "csv",
                table: "closed_reports",
                type: "text",
                nullable: false,
                defaultValue: "");

            migrationBuilder.Sql("""
                UPDATE closed_reports r SET csv = (SELECT string_agg(p.text, '' ORDER BY p.sequence) FROM closed_report_parts p WHERE p.month = r.month);
                """);

            migrationBuilder.DropTable(
                name: "closed_report_parts");
        }
    }
}
