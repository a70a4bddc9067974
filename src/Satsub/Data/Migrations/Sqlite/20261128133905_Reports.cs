using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
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
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "commissions_accrued_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "owner_share_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "payout_fees_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "payouts_count",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "payouts_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "refunds_count",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "refunds_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "row_count",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "sales_count",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.AddColumn<long>(
                name: "sales_sats",
                table: "closed_reports",
                type: "INTEGER",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "closed_report_parts",
                columns: table => new
                {
                    month = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    text = table.Column<string>(type: "TEXT", nullable: false)
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
                WITH RECURSIVE cut(month, i, rest) AS (
                    SELECT month, 0, csv FROM closed_reports
                    UNION ALL
                    SELECT month, i + 1, substr(rest, 524289) FROM cut WHERE length(rest) > 524288)
                SELECT month, i, substr(rest, 1, 524288) FROM cut;
                """);

            // SQLite drops a plain column in place (3.35+): no table rebuild, which would have to run outside the transaction.
            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN csv;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN affiliate_balance_change_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN commissions_accrued_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN owner_share_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN payout_fees_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN payouts_count;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN payouts_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN refunds_count;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN refunds_sats;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN row_count;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN sales_count;");

            migrationBuilder.Sql("ALTER TABLE closed_reports DROP COLUMN sales_sats;");

            migrationBuilder.AddColumn<string>(
                name: "csv",
                table: "closed_reports",
                type: "TEXT",
                nullable: false,
                defaultValue: "");

            migrationBuilder.Sql("""
                UPDATE closed_reports SET csv = (SELECT group_concat(text, '') FROM (SELECT text FROM closed_report_parts p
                    WHERE p.month = closed_reports.month ORDER BY p.sequence));
                """);

            migrationBuilder.DropTable(
                name: "closed_report_parts");
        }
    }
}
