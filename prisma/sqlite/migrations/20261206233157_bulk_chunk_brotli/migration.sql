-- Export files are now stored compressed. The jobs of the old format are dropped with their
-- files (a client polling one gets the 404 of an expired job and starts a new export).
DELETE FROM "BulkExportChunk";
DELETE FROM "BulkExportJob";

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_BulkExportChunk" (
    "jobId" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "lines" INTEGER NOT NULL,
    "data" BLOB NOT NULL,

    PRIMARY KEY ("jobId", "type", "seq")
);
DROP TABLE "BulkExportChunk";
ALTER TABLE "new_BulkExportChunk" RENAME TO "BulkExportChunk";
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;
