-- AlterTable
ALTER TABLE "Sandbox" ADD COLUMN     "clockOffsetSeconds" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "roomId" TEXT;

-- CreateIndex
CREATE INDEX "Sandbox_roomId_idx" ON "Sandbox"("roomId");
