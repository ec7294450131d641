-- Export files are now stored compressed. The jobs of the old format are dropped with their
-- files (a client polling one gets the 404 of an expired job and starts a new export).
DELETE FROM "BulkExportChunk";
DELETE FROM "BulkExportJob";

-- AlterTable
ALTER TABLE "BulkExportChunk" DROP COLUMN "content",
ADD COLUMN     "data" BYTEA NOT NULL;
