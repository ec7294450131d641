-- AlterTable
ALTER TABLE "Token" ADD COLUMN     "jwt" TEXT;
