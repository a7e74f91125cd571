"""Refusals: a stable code for programs and a Chinese message for people."""
from __future__ import annotations

MESSAGES = {
    "bad_request": "请求格式不正确",
    "bad_token": "二维码无效，请重新扫描本考场的二维码",
    "token_expired": "二维码已过期，请扫描考场屏幕上的最新二维码",
    "bad_credentials": "准考证号或身份证号后6位不正确，请核对后重新输入",
    "wrong_room": "您不在本考场（场次）考试，请到准考证上的考场扫码",
    "rate_limited": "尝试次数过多，请稍候再试，或请监考老师协助",
    "late_entry": "开考已超过规定时间，不得入场。请联系监考老师",
    "bad_session": "登录已失效，请重新扫码登录",
    "replaced": "您已在另一台设备登录，本设备已停止答题",
    "not_logged_in": "请先登录",
    "not_confirmed": "请先核对个人信息和试卷类别",
    "not_started": "考试尚未开始，请等待监考老师宣布开考",
    "paused": "考场暂停中，请等待监考老师通知，计时已暂停",
    "sitting_ended": "本场考试已结束",
    "not_answering": "尚未开始答题",
    "time_up": "考试时间已到，答案不再接收",
    "submitted": "试卷已提交，不能再修改",
    "bad_question": "题号不存在",
    "bad_choice": "选项不存在",
    "too_early": "还未到允许交卷的时间",
    "storage": "考场服务器暂时无法保存，答案已保留在手机上，将自动重试",
    "not_open": "请先点击开始答题",
    "forbidden": "无权操作",
    "unknown_sitting": "场次不存在",
    "bad_state": "当前状态下不能进行此操作",
    "paper_sealed": "本场次试卷尚未解封：开考时请输入区县定考办提供的放行码",
    "bad_release_code": "放行码不正确，请核对后重新输入",
    "awaiting_approval": "您已在另一台设备登录。请举手，由监考老师在控制台确认更换设备后继续答题",
    "capture_required": "开始答题前请先拍一张本人正面照片（点击“拍照”）",
    "capture_conflict": "照片编号冲突，照片未保存",
    "capture_limit": "照片数量已达上限，请联系监考老师",
    "bad_photo": "照片无效，请重新拍照",
    "camera_off": "本考点未启用拍照",
    "device_rejected": "监考老师未同意更换设备，请使用原设备答题或联系监考老师",
}


class ExamError(Exception):
    def __init__(self, code: str, message: str | None = None, **extra):
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.extra = extra
        super().__init__(f"{code}: {self.message}")

    def as_error(self) -> dict:
        return {"code": self.code, "message": self.message, **self.extra}
