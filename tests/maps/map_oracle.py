"""Oracle of src/maps/mapper.rs and flatten.rs: meltano-map-transform (the Singer SDK's stream
maps and flattening) as a Singer mapper.

Usage: python map_oracle.py CONFIG.json < input.jsonl > output.jsonl

This is `meltano-map-transform --config CONFIG.json` with one change: a stream dropped by its map
(`RemoveRecordTransform`) gets no SCHEMA message, as in an SDK tap
(`Stream._generate_schema_messages`); the mapper alone still writes one.
"""

from meltano_map_transform.mapper import StreamTransform
from singer_sdk.mapper import RemoveRecordTransform


class TapLikeTransform(StreamTransform):
    def map_schema_message(self, message_dict):
        for message in super().map_schema_message(message_dict):
            maps = self.mapper.stream_maps[message_dict["stream"]]
            if any(
                isinstance(m, RemoveRecordTransform) and m.stream_alias == message.stream
                for m in maps
            ) and not any(
                not isinstance(m, RemoveRecordTransform) and m.stream_alias == message.stream
                for m in maps
            ):
                continue
            yield message


if __name__ == "__main__":
    TapLikeTransform.cli()
