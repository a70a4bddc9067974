using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Satsub.Data.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Transparency : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "closed_reports",
                columns: table => new
                {
                    month = table.Column<string>(type: "TEXT", maxLength: 7, nullable: false),
                    csv = table.Column<string>(type: "TEXT", nullable: false),
                    sha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    closed_at = table.Column<long>(type: "INTEGER", nullable: false),
                    signature_address = table.Column<string>(type: "TEXT", maxLength: 100, nullable: true),
                    signature_scheme = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    signature_message = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    signature = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true),
                    signed_at = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_closed_reports", x => x.month);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "closed_reports");
        }
    }
}
