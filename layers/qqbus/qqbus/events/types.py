"""Field types shared by the QQ and OneBot models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

#: A QQ number, group number or message id. Real ``message_id``s are negative or above
#: int32, so every id is a signed 64-bit integer (numeric strings are accepted too).
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
