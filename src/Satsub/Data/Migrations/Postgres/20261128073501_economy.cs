using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class Economy : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "schedule_key",
                table: "payouts",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "review_reason",
                table: "commissions",
                type: "character varying(512)",
                maxLength: 512,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_payouts_user_id_schedule_key",
                table: "payouts",
                columns: new[] { "user_id", "schedule_key" },
                unique: true,
                filter: "schedule_key IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_payouts_user_id_schedule_key",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "schedule_key",
                table: "payouts");

            migrationBuilder.DropColumn(
                name: "review_reason",
                table: "commissions");
        }
    }
}
