"""Files: ids, uploads by the bot and by users, getFile and downloads."""

from __future__ import annotations

import base64
import copy
import mimetypes
import re
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.fakes.images import image_size, make_png
from bot.sandbox.fakes.telegram.chats import ChatAccess
from bot.sandbox.fakes.telegram.constants import JSON, MAX_GETFILE_SIZE, MAX_UPLOAD_SIZE
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import ApiError, UploadedFile, bad_request
from bot.sandbox.fakes.telegram.state import StoredFile


class FileStore(ChatAccess):
    """Files: ids, uploads by the bot and by users, getFile and downloads."""

    # ---------------------------------------------------------------- files

    def _new_file_ids(self, kind: str) -> tuple[str, str]:
        self._file_seq += 1
        prefixes = {
            "photo": "AgACAgIAAxkBAAI",
            "document": "BQACAgIAAxkBAAI",
            "sticker": "CAACAgIAAxkBAAI",
            "voice": "AwACAgIAAxkBAAI",
            "video": "BAACAgIAAxkBAAI",
            "audio": "CQACAgIAAxkBAAI",
            "animation": "CgACAgIAAxkBAAI",
            "video_note": "DQACAgIAAxkBAAI",
        }
        token = base64.urlsafe_b64encode(
            self._file_seq.to_bytes(6, "big") + self.bot_id.to_bytes(8, "big")
        ).decode()
        unique = base64.urlsafe_b64encode(self._file_seq.to_bytes(6, "big")).decode()
        return prefixes.get(kind, "BQACAgIAAxkBAAI") + token.rstrip("="), "AQAD" + unique.rstrip(
            "="
        )

    def _register_file(self, kind: str, data: bytes, extension: str, meta: JSON) -> StoredFile:
        file_id, unique_id = self._new_file_ids(kind)
        folder = {"photo": "photos", "document": "documents", "sticker": "stickers"}.get(kind, kind)
        path = f"{folder}/file_{self._file_seq}{extension}"
        meta = {"file_id": file_id, "file_unique_id": unique_id, **meta, "file_size": len(data)}
        stored = StoredFile(file_id, unique_id, kind, data, path, meta)
        self._files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _register_photo(self, data: bytes, width: int, height: int) -> list[JSON]:
        sizes: list[JSON] = []
        longest = max(width, height, 1)
        limits = [limit for limit in (90, 320, 800, 1280) if limit < longest] + [min(longest, 2560)]
        for limit in limits:
            scale = limit / longest
            w, h = max(1, round(width * scale)), max(1, round(height * scale))
            stored = self._register_file("photo", data, ".jpg", {"width": w, "height": h})
            # Smaller renditions are smaller files; the bytes served stay the original.
            stored.meta["file_size"] = max(1, round(len(data) * scale * scale))
            sizes.append(stored.meta)
        for size in sizes:
            self._files[size["file_id"]].photo_set = sizes
        return copy.deepcopy(sizes)

    def _photo_from_param(self, value: Any) -> list[JSON]:
        if value is None or value == "":
            raise bad_request("there is no photo in the request")
        if isinstance(value, UploadedFile):
            if value.size > MAX_UPLOAD_SIZE:
                raise ApiError(413, "Request Entity Too Large")
            dims = image_size(value.data)
            if dims is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            return self._register_photo(value.data, *dims)
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.photo_set is None:
                    raise bad_request(f"can't use file of type {stored.kind.title()} as Photo")
                return copy.deepcopy(stored.photo_set)
            if re.match(r"^https?://", value):
                # No network here: record a placeholder instead of downloading.
                return self._register_photo(make_png(1, 1), 800, 600)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _document_from_param(self, value: Any) -> JSON:
        if value is None or value == "":
            raise bad_request("there is no document in the request")
        if isinstance(value, UploadedFile):
            if value.size > MAX_UPLOAD_SIZE:
                raise ApiError(413, "Request Entity Too Large")
            return copy.deepcopy(self._register_document(value.data, value.filename, None))
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is not None:
                if stored.kind != "document":
                    raise bad_request(f"can't use file of type {stored.kind.title()} as Document")
                return copy.deepcopy(stored.meta)
            if re.match(r"^https?://", value):
                name = urlsplit(value).path.rsplit("/", 1)[-1] or "file"
                return copy.deepcopy(self._register_document(b"", name, None))
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _register_document(self, data: bytes, file_name: str, mime_type: str | None) -> JSON:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        extension = "." + file_name.rsplit(".", 1)[-1] if "." in file_name else ""
        stored = self._register_file(
            "document", data, extension, {"file_name": file_name, "mime_type": mime}
        )
        return stored.meta

    async def _m_get_file(self, p: Params) -> Any:
        file_id = p.opt_str("file_id") or ""
        stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        if len(stored.data) > MAX_GETFILE_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": int(stored.meta.get("file_size", len(stored.data))),
            "file_path": stored.path,
        }

    def file_content(self, file_id: str) -> bytes | None:
        """Bytes behind a file_id (uploaded by the bot or sent by a simulated user)."""
        stored = self._files.get(file_id)
        return stored.data if stored else None

    # ================================================================ simulation API
